// Lays out the npm packages the way napi-rs publishes a native addon: the main package
// `ctilink` (JavaScript, types, and the loader native.js, which picks the addon for the
// platform it runs on) and one package per platform holding the `.node` file, named in
// the main package's optionalDependencies so npm installs only the matching one.
//
//   node packaging/node/layout.mjs BINDINGS_NODE_DIR ADDON.node OUT_DIR
//
// Writes OUT_DIR/ctilink and OUT_DIR/ctilink-linux-x64-gnu, ready for `npm pack`.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'

const [src, addon, out] = process.argv.slice(2)
if (!src || !addon || !out) {
  console.error('usage: layout.mjs BINDINGS_NODE_DIR ADDON.node OUT_DIR')
  process.exit(2)
}

// The platform this build is for, in napi-rs's naming (the name native.js requires).
const platform = { triple: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' }
const addonName = `ctilink.${platform.triple}.node`
if (basename(addon) !== addonName) {
  console.error(`expected an addon named ${addonName}, got ${basename(addon)}`)
  process.exit(2)
}

const dev = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'))
const loader = readFileSync(join(src, 'native.js'), 'utf8')
const platformPkg = `${dev.name}-${platform.triple}`
// native.js checks the platform package's version against its own: they must agree.
if (!loader.includes(`require('${platformPkg}')`) || !loader.includes(`'${dev.version}'`)) {
  console.error(`native.js does not load ${platformPkg} at version ${dev.version}: rebuild it`)
  process.exit(1)
}

rmSync(out, { recursive: true, force: true })

// The main package: no install script, no sources, no build tools.
const mainDir = join(out, dev.name)
mkdirSync(mainDir, { recursive: true })
const jsFiles = ['index.js', 'index.d.ts', 'native.js', 'native.d.ts']
for (const f of jsFiles) cpSync(join(src, f), join(mainDir, f))
cpSync(join(src, 'README.md'), join(mainDir, 'README.md'))
const main = {
  name: dev.name,
  version: dev.version,
  description: dev.description,
  license: dev.license,
  keywords: ['cti', 'asterisk', 'ami', 'pbx', 'telephony', 'click-to-dial', 'tapi'],
  main: dev.main,
  types: dev.types,
  exports: dev.exports,
  files: [...jsFiles, 'README.md'],
  engines: dev.engines,
  optionalDependencies: { [platformPkg]: dev.version },
}
writeFileSync(join(mainDir, 'package.json'), JSON.stringify(main, null, 2) + '\n')

// The platform package: the addon alone.
const platDir = join(out, platformPkg)
mkdirSync(platDir, { recursive: true })
cpSync(addon, join(platDir, addonName))
writeFileSync(
  join(platDir, 'README.md'),
  `# ${platformPkg}\n\nThe native addon of [\`${dev.name}\`](../${dev.name}) for ${platform.os} ` +
    `${platform.cpu} (${platform.libc}). Install \`${dev.name}\`; npm picks this package for you.\n`,
)
const plat = {
  name: platformPkg,
  version: dev.version,
  description: `${dev.name}'s native addon for ${platform.os}-${platform.cpu} (${platform.libc})`,
  license: dev.license,
  main: addonName,
  files: [addonName, 'README.md'],
  os: [platform.os],
  cpu: [platform.cpu],
  libc: [platform.libc],
  engines: dev.engines,
}
writeFileSync(join(platDir, 'package.json'), JSON.stringify(plat, null, 2) + '\n')
console.log(`${mainDir}\n${platDir}`)
