; The installer of the ctilink TAPI service provider: ctilink.dll and ctilink.tsp into the
; system folder (where TAPI loads providers from), the PBX URL and the lines into
; HKLM\SOFTWARE\ctilink\TSP, the provider added to TAPI (tsp_register.exe: lineAddProvider),
; and an uninstaller that undoes all of it.
;
;   makensis -DVERSION=0.1.0 -DBUILD=DIR -DOUTFILE=FILE ctilink-tsp.nsi   (scripts/build-windows.sh)
;
; Silent install, for software distribution:
;   ctilink-tsp-0.1.0-setup.exe /S /URL=ami://tapi:secret@pbx:5038?control=pjsip /LINES=201,202
; Silent uninstall:  "%ProgramFiles%\ctilink\TSP\uninstall.exe" /S
; Without /URL (and without an earlier install's) the installer says where to set it.

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!include "FileFunc.nsh"
!include "LogicLib.nsh"

!ifndef VERSION | BUILD | OUTFILE
  !error "define VERSION, BUILD and OUTFILE (see the head of this file)"
!endif

!define CONFIG_KEY "SOFTWARE\ctilink\TSP"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\ctilink-tsp"

Name "ctilink TAPI service provider ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\ctilink\TSP"
ShowInstDetails show

Var Url
Var Lines

Page instfiles
UninstPage instfiles

; Option $R1 (e.g. "/URL=") of the command line $R0 into $R2: from after the name up to the
; next " /" or the end, without surrounding quotes. (FileFunc's GetOptions would cut a URL at
; its first "/".)
Function GetArg
  StrCpy $R2 ""
  StrLen $R3 $R1
  StrLen $R4 $R0
  StrCpy $R5 0
  ${Do}
    ${If} $R5 >= $R4
      Return
    ${EndIf}
    StrCpy $R6 $R0 $R3 $R5
    ${If} $R6 == $R1
      IntOp $R5 $R5 + $R3
      ${Break}
    ${EndIf}
    IntOp $R5 $R5 + 1
  ${Loop}
  StrCpy $R7 $R5
  ${Do}
    ${If} $R7 >= $R4
      ${Break}
    ${EndIf}
    StrCpy $R6 $R0 2 $R7
    ${If} $R6 == " /"
      ${Break}
    ${EndIf}
    IntOp $R7 $R7 + 1
  ${Loop}
  IntOp $R8 $R7 - $R5
  StrCpy $R2 $R0 $R8 $R5
  StrCpy $R6 $R2 1
  ${If} $R6 == '"'
    StrCpy $R2 $R2 -1 1
  ${EndIf}
FunctionEnd

Function .onInit
  SetRegView 64
  ${GetParameters} $R0
  StrCpy $R1 "/URL="
  Call GetArg
  StrCpy $Url $R2
  StrCpy $R1 "/LINES="
  Call GetArg
  StrCpy $Lines $R2
  ; Keep what an earlier install configured.
  ${If} $Url == ""
    ReadRegStr $Url HKLM "${CONFIG_KEY}" "Url"
  ${EndIf}
  ${If} $Lines == ""
    ReadRegStr $Lines HKLM "${CONFIG_KEY}" "Lines"
  ${EndIf}
  ${If} $Url == ""
  ${AndIfNot} ${Silent}
    MessageBox MB_OK|MB_ICONINFORMATION "No PBX URL was given (/URL=...). After the installation, set it in Control Panel > Phone and Modem > Advanced > ctilink > Configure (or as the value Url of HKLM\${CONFIG_KEY}), then restart the Telephony service."
  ${EndIf}
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "ctilink TAPI service provider"
  SetOutPath "$SYSDIR"
  File "${BUILD}\ctilink.dll"
  File "${BUILD}\ctilink.tsp"
  SetOutPath "$INSTDIR"
  File "${BUILD}\tsp_register.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ${If} $Url != ""
    WriteRegStr HKLM "${CONFIG_KEY}" "Url" $Url
  ${EndIf}
  ${If} $Lines != ""
    WriteRegStr HKLM "${CONFIG_KEY}" "Lines" $Lines
  ${EndIf}
  WriteRegStr HKLM "${CONFIG_KEY}" "Version" "${VERSION}"

  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "ctilink TAPI service provider"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "ctilink"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1

  ExecWait '"$INSTDIR\tsp_register.exe" add' $0
  ${If} $0 != 0
    DetailPrint "TAPI did not add the provider (tsp_register.exe: $0)."
    DetailPrint "Add ctilink.tsp in Control Panel > Phone and Modem > Advanced > Add."
  ${EndIf}
SectionEnd

Section "Uninstall"
  ExecWait '"$INSTDIR\tsp_register.exe" remove' $0
  Delete "$SYSDIR\ctilink.tsp"
  Delete "$SYSDIR\ctilink.dll"
  Delete "$INSTDIR\tsp_register.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  RMDir "$PROGRAMFILES64\ctilink"
  DeleteRegKey HKLM "${CONFIG_KEY}"
  DeleteRegKey /ifempty HKLM "SOFTWARE\ctilink"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
