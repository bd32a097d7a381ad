// Types of the npm package `ctilink` (index.js). The native layer's generated typings are
// in native.d.ts; this file describes what users import. Guide: docs/node.md.

import { EventEmitter } from 'node:events'

// ---------------------------------------------------------------------------------------
// The call model's vocabulary (core/src/model): values are the core's snake_case words.

/** A device's connection to a call (CSTA, ECMA-269). */
export type ConnectionState = 'null' | 'initiated' | 'alerting' | 'connected' | 'held' | 'queued' | 'failed'

/** What a device is doing, as the PBX reports it. */
export type DeviceState =
  | 'idle'
  | 'in_use'
  | 'busy'
  | 'ringing'
  | 'ring_in_use'
  | 'on_hold'
  | 'unavailable'
  | 'unknown'

export type FailureReason = 'busy' | 'no_answer' | 'rejected' | 'unreachable' | 'congestion' | 'other'
export type TransferKind = 'blind' | 'attended' | 'blonde'
export type DivertReason = 'forward' | 'deflect' | 'pickup'
/** Which calls a forwarding applies to. */
export type ForwardKind = 'immediate' | 'busy' | 'no_answer'
/** How a click-to-dial ended, as a user tells it. */
export type DialOutcome = 'answered' | 'busy' | 'no-answer' | 'failed'

/** A party's number and name as the PBX shows them. */
export interface Party {
  number: string
  name: string
  /** Present only when the number is not to be shown. */
  presentation?: 'restricted' | 'unavailable'
}

/** One end of a connection: the device and the PBX channel that carries it. */
export interface Endpoint {
  device: string
  channel: string
}

// ---------------------------------------------------------------------------------------
// Events (core/src/model/event.rs). `event` is the kind; `call` a call's stable id.

/** The device made a call (for a click-to-dial: the user answered their own phone). */
export interface OriginatedEvent {
  event: 'originated'
  call: string
  device: string
  channel: string
  state: ConnectionState
  caller: Party
  called: Party
}

/** The call rings at `device`. */
export interface DeliveredEvent {
  event: 'delivered'
  call: string
  device: string
  channel: string
  state: ConnectionState
  caller: Party
  called: Party
  /** The device that placed the call, when it is a device of this PBX. */
  callingDevice: string | null
  /** The user's own phone ringing for a click-to-dial, before the destination is dialed. */
  clickToDial: boolean
}

/** `device` answered. */
export interface EstablishedEvent {
  event: 'established'
  call: string
  device: string
  channel: string
  state: ConnectionState
  caller: Party
  called: Party
  callingDevice: string | null
  clickToDial: boolean
}

export interface HeldEvent {
  event: 'held'
  call: string
  device: string
  channel: string
  state: ConnectionState
}

export interface RetrievedEvent {
  event: 'retrieved'
  call: string
  device: string
  channel: string
  state: ConnectionState
}

/** The call left `from` without being answered there; it now rings at `device`. */
export interface DivertedEvent {
  event: 'diverted'
  call: string
  device: string
  channel: string
  from: Endpoint
  reason: DivertReason
  caller: Party
  called: Party
}

/** `transferring` handed the call to `targets`; `call` keeps its id. */
export interface TransferredEvent {
  event: 'transferred'
  call: string
  kind: TransferKind
  transferring: Endpoint
  transferred: Endpoint
  targets: Endpoint[]
  /** The consultation call merged into this one (attended and blonde transfers). */
  secondaryCall: string | null
  caller: Party
}

/** Three or more devices talk together. */
export interface ConferencedEvent {
  event: 'conferenced'
  call: string
  device: string
  channel: string
  state: ConnectionState
  parties: string[]
}

/** The call waits in `queue`. */
export interface QueuedEvent {
  event: 'queued'
  call: string
  device: string
  queue: string
  state: ConnectionState
  caller: Party
  position: number | null
}

/** The call could not reach `device`. */
export interface FailedEvent {
  event: 'failed'
  call: string
  device: string
  channel: string
  state: ConnectionState
  reason: FailureReason
  /** Q.850 release cause. */
  cause: number | null
}

/** `device` left the call. */
export interface ConnectionClearedEvent {
  event: 'connection_cleared'
  call: string
  device: string
  channel: string
  state: ConnectionState
  previous: ConnectionState
  cause: number | null
  /** The device whose hang-up ended the talk, when the PBX said (this device, or the other party). */
  releasedBy: string | null
}

/** The call ended; it and its connections are gone. */
export interface CallClearedEvent {
  event: 'call_cleared'
  call: string
  cause: number | null
  answered: boolean
  /** Set when a transfer merged this call into another. */
  mergedInto: string | null
}

export interface DeviceStateEvent {
  event: 'device_state'
  device: string
  state: DeviceState
  previous: DeviceState
}

/**
 * The PBX no longer has `device`: a resync found it in none of the PBX's lists (a restart
 * or reload with other extensions). Comes before `resynced`; forget the device.
 */
export interface DeviceRemovedEvent {
  event: 'device_removed'
  device: string
}

export interface PresenceEvent {
  event: 'presence'
  device: string
  presence: string
  subtype: string
  message: string
}

export interface DoNotDisturbEvent {
  event: 'do_not_disturb'
  device: string
  enabled: boolean
}

/** Forwarding of `kind` changed: on to `to`, or off (`null`). */
export interface ForwardingEvent {
  event: 'forwarding'
  device: string
  kind: ForwardKind
  to: string | null
}

/** An AMI `UserEvent` from the dialplan, passed through. */
export interface UserEvent {
  event: 'user_event'
  name: string
  call: string | null
  /** `[name, value]` pairs in the PBX's order (names may repeat). */
  fields: Array<[string, string]>
}

/** The model was rebuilt from the PBX's lists (after connect and every reconnect). */
export interface ResyncedEvent {
  event: 'resynced'
  callsEnded: string[]
  callsFound: string[]
  devicesChanged: string[]
}

export interface LinkUpEvent {
  event: 'link_up'
  reconnected: boolean
}

/** The link is down; it reconnects, then `resynced` brings the model up to date. */
export interface LinkDownEvent {
  event: 'link_down'
  reason: string
}

/** This consumer fell behind and `missed` events were dropped; ask for a snapshot. */
export interface LaggedEvent {
  event: 'lagged'
  missed: number
}

export type CallEvent =
  | OriginatedEvent
  | DeliveredEvent
  | EstablishedEvent
  | HeldEvent
  | RetrievedEvent
  | DivertedEvent
  | TransferredEvent
  | ConferencedEvent
  | QueuedEvent
  | FailedEvent
  | ConnectionClearedEvent
  | CallClearedEvent

export type DeviceEvent =
  | DeviceStateEvent
  | DeviceRemovedEvent
  | PresenceEvent
  | DoNotDisturbEvent
  | ForwardingEvent

export type LinkEvent = ResyncedEvent | LinkUpEvent | LinkDownEvent | LaggedEvent

/** Every event a session delivers. Narrow on `event`. */
export type Event = CallEvent | DeviceEvent | LinkEvent | UserEvent

/** The kind of each event, as in `event.event`. */
export type EventKind = Event['event']

// ---------------------------------------------------------------------------------------
// The model (snapshot).

/** One device's part in one call. */
export interface Connection {
  device: string
  channel: string
  state: ConnectionState
}

/** A call: its stable id, who called whom, and the connections of the devices in it. */
export interface Call {
  id: string
  callingDevice: string | null
  caller: Party
  called: Party
  connections: Connection[]
  answered: boolean
  diverted: { from: Endpoint; reason: DivertReason } | null
  clickToDial: boolean
}

/** What the model knows about a device. */
export interface Device {
  id: string
  /** The PBX interface (`PJSIP/100`), once seen. */
  interface: string | null
  state: DeviceState
  presence: string | null
  doNotDisturb: boolean
  forwardTo: string | null
  forwardBusy: string | null
  forwardNoAnswer: string | null
}

/** Devices and calls at one moment. */
export interface Snapshot {
  devices: Device[]
  calls: Call[]
}

export interface LinkStatus {
  state: 'up' | 'down' | 'closed'
  /** Why the link is down. */
  reason?: string
}

// ---------------------------------------------------------------------------------------
// Errors.

/** The `code` of every error the core raises. */
export type ErrorCode =
  | 'ERR_INVALID_URL'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_CONNECT'
  | 'ERR_TLS'
  | 'ERR_AUTH_FAILED'
  | 'ERR_LINK_DOWN'
  | 'ERR_TIMEOUT'
  | 'ERR_PBX_REFUSED'
  | 'ERR_PROTOCOL'
  | 'ERR_BUSY'
  | 'ERR_CLOSED'
  | 'ERR_UNKNOWN_DEVICE'
  | 'ERR_UNKNOWN_CALL'
  | 'ERR_NOT_ALLOWED'
  | 'ERR_UNSUPPORTED'

/** The simulator's own errors. */
export type SimulatorErrorCode =
  | 'ERR_SIM_UNKNOWN_EXTENSION'
  | 'ERR_SIM_EXTENSION_BUSY'
  | 'ERR_SIM_SHUT_DOWN'
  | 'ERR_SIM_START'
  | 'ERR_INVALID_ARGUMENT'

/**
 * Every error of ctilink. Arguments of the wrong JavaScript type throw a `TypeError` with
 * code `ERR_INVALID_ARG_TYPE` instead, as Node's own APIs do.
 */
export declare class CtilinkError extends Error {
  readonly name: 'CtilinkError'
  /** Stable: branch on it. (`ERR_CTILINK` for an error this version does not know.) */
  readonly code: ErrorCode | SimulatorErrorCode | 'ERR_CTILINK'
}

/** Every `ErrorCode`, in the core's order. */
export declare const errorCodes: readonly ErrorCode[]

// ---------------------------------------------------------------------------------------
// The Session.

/** Options of `connect`; each wins over the same URL parameter. See docs/session.md. */
export interface ConnectOptions {
  /** Only these devices' events (and their calls'). */
  monitor?: string[]
  /** Capacity of each event queue (4096); a consumer further behind gets `lagged`. */
  eventQueue?: number
  /** How long a command waits for the PBX (10000). */
  timeoutMs?: number
  /** Reconnect with backoff when the link drops (true). */
  reconnect?: boolean
  /** How phones are made to answer and hold ('none': answer/hold/retrieve fail ERR_UNSUPPORTED). */
  control?: 'pjsip' | 'sip' | 'none'
  /**
   * The AstDB convention the PBX follows for DND and forwarding (false): true or
   * 'ctilink' for ctilink's dialplan snippet, 'freepbx' for FreePBX's keys and lamps.
   */
  astdb?: boolean | 'ctilink' | 'freepbx'
  /** Dialplan context for devices whose hint names none ('from-internal'). */
  context?: string
  /** Channel technology for devices the PBX did not report ('PJSIP'). */
  technology?: string
  /** How long a click-to-dial rings the user's own phone (30000). */
  originateTimeoutMs?: number
  /** How long `consultationCall` waits for the new call (10000). */
  consultationTimeoutMs?: number
  /** How long connecting (TCP and TLS) may take (5000). */
  connectTimeoutMs?: number
}

export interface DialOptions {
  /** How long to follow the call before giving up with the failure seen so far, else `failed` (120000). */
  timeoutMs?: number
}

/** A click-to-dial followed to its outcome: iterate for the call's events. */
export declare class Dial implements AsyncIterable<CallEvent> {
  private constructor()
  /** The call's id. */
  readonly call: string
  /**
   * How it ended, decided by the core's DialProgress. Past the time limit, when the link
   * drops or the session closes: the failure seen so far, else `failed`.
   */
  readonly outcome: Promise<DialOutcome>
  /** Stops following the call; `outcome` resolves with what was seen so far. */
  cancel(): void
  /** The call's events up to the one that decided the outcome (one consumer). */
  [Symbol.asyncIterator](): AsyncIterator<CallEvent>
}

/** Listener signatures of a Session's events. */
export interface SessionEvents {
  /** Every event, in the PBX's order. */
  event: [event: Event]
  call: [event: CallEvent]
  device: [event: DeviceEvent]
  link: [event: LinkEvent]
  user: [event: UserEvent]
  /** Once, when `close()` has completed. */
  close: []
}

/**
 * A connection to a PBX with its call model. Events are emitted in the PBX's order, as
 * `'event'` and by category (`'call'`, `'device'`, `'link'`, `'user'`), from the first
 * listener on; while it has such listeners the session keeps Node running, until the
 * last is removed or `close()`.
 */
export declare class Session extends EventEmitter {
  private constructor()

  on<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this
  once<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this
  off<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this
  addListener<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this
  removeListener<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this
  prependListener<K extends keyof SessionEvents>(name: K, listener: (...args: SessionEvents[K]) => void): this

  /**
   * The events from now on, with their own bounded queue (a consumer that falls behind
   * gets `lagged`). Ends when the session is closed.
   */
  events(): AsyncIterableIterator<Event>
  /** Devices and calls now. */
  snapshot(): Snapshot
  device(id: string): Device | null
  call(id: string): Call | null
  status(): LinkStatus

  /** Click-to-dial followed to its outcome (`answered`, `busy`, `no-answer`, `failed`). */
  dial(from: string, to: string, options?: DialOptions): Promise<Dial>

  /** Click-to-dial: rings `from`, and when it answers, calls `to`. Resolves with the call's id. */
  makeCall(from: string, to: string): Promise<string>
  /** Answers a call ringing at `device` (needs phone control). */
  answer(call: string, device: string): Promise<void>
  /** Hangs up `device`'s part of the call. */
  clearConnection(call: string, device: string): Promise<void>
  /** Ends the call for every party. */
  clearCall(call: string): Promise<void>
  /** Puts the call on hold at `device` (needs phone control). */
  hold(call: string, device: string): Promise<void>
  /** Takes the call off hold at `device` (needs phone control). */
  retrieve(call: string, device: string): Promise<void>
  /** Blind transfer: the party talking to `device` goes to `to`; `device` is released. */
  singleStepTransfer(call: string, device: string, to: string): Promise<void>
  /** Holds the call and calls `to` from `device`; resolves with the new call's id. */
  consultationCall(call: string, device: string, to: string): Promise<string>
  /** Attended transfer: joins the other parties of `held` and `active`. */
  transferCall(held: string, active: string): Promise<void>
  /** Sends a call ringing at `device` to `to` instead. */
  deflect(call: string, device: string, to: string): Promise<void>
  /** Takes, at `device`, a call ringing elsewhere (by call id or ringing device). */
  pickup(device: string, callOrDevice: string): Promise<void>
  /** Sends DTMF digits (`0-9*#A-D`) from `device` to the other party. */
  sendDtmf(call: string, device: string, digits: string): Promise<void>
  /** Do-not-disturb on or off (needs the AstDB convention). */
  setDoNotDisturb(device: string, on: boolean): Promise<void>
  /** Forwarding of `kind` to `to`, or off with `null` (needs the AstDB convention). */
  setForwarding(device: string, kind: ForwardKind, to: string | null): Promise<void>

  /**
   * Logs off. From the call on no handler sees another event and iterators end; once it
   * resolves the session no longer keeps Node running. Later commands fail `ERR_CLOSED`.
   */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Connects to `ami://user:secret@host[:port]` (`amis://` for TLS) with the session's URL
 * parameters (`?control=pjsip&astdb=1&monitor=100,101&timeout_ms=...`) and `options`.
 * Resolves once logged in and once `snapshot()` holds the PBX's devices and calls.
 */
export declare function connect(url: string, options?: ConnectOptions): Promise<Session>

// ---------------------------------------------------------------------------------------
// The simulator.

export interface SimulatorOptions {
  /** Listen address ('127.0.0.1'). */
  host?: string
  /** Listen port (0: any free port). */
  port?: number
  /** The phones ('100'...'149'). */
  extensions?: string[]
  /** AMI user ('admin'). */
  username?: string
  /** AMI secret ('secret'). */
  secret?: string
  /**
   * The Asterisk imitated (20): its AMI banner, default technology and event
   * differences. A number, or a version string such as '22.10.1'.
   */
  asterisk?: 18 | 20 | 22 | string
  /**
   * 'PJSIP' or 'SIP' (not on 22); by default the version's own ('SIP' on 18 and 20,
   * 'PJSIP' on 22), or 'PJSIP' without `asterisk`.
   */
  technology?: string
  context?: string
  /** How long a click-to-dial rings the user's phone before it answers (1000). */
  ringDelayMs?: number
  /** How long a called phone rings before it answers (2000). */
  answerDelayMs?: number
  /** Phones that ring but never answer. */
  noAnswer?: string[]
  /** How long Dial() rings a phone that does not answer (30000). */
  dialTimeoutMs?: number
  /** Serve AMI over TLS. */
  tls?: { certPem: string; keyPem: string }
}

/** Random calls among the phones. Shares are 0..1. */
export interface TrafficOptions {
  callsPerSec: number
  seed?: number
  talkMinMs?: number
  talkMaxMs?: number
  busy?: number
  unknown?: number
  noAnswer?: number
  hold?: number
  transfer?: number
}

/** What the simulated PBX really holds. */
export interface SimTruth {
  devices: Array<{ ext: string; state: string }>
  channels: Array<{
    name: string
    ext: string
    uniqueid: string
    linkedid: string
    state: string
    held: boolean
    bridgedWith: string[]
  }>
  dnd: string[]
  forwards: Array<{ ext: string; kind: string; to: string }>
}

/** The PBX simulator, in-process, over real TCP. */
export declare class Simulator {
  private constructor()
  static start(options?: SimulatorOptions): Promise<Simulator>
  /** `ami://admin:secret@127.0.0.1:PORT`. */
  readonly url: string
  /** `url` with `?control=pjsip&astdb=1`, so that every command works. */
  readonly sessionUrl: string
  readonly port: number
  /** Phone `from` dials `to`. */
  placeCall(from: string, to: string): void
  /** The user at `ext` answers now; false if it does not ring. */
  answerExt(ext: string): boolean
  /** The user at `ext` hangs up or rejects; false if it has no call. */
  hangupExt(ext: string): boolean
  hangupAll(): void
  setRegistered(ext: string, registered: boolean): boolean
  /** Refuses `action` with `Permission denied` (or allows it again). */
  setActionAllowed(action: string, allowed: boolean): void
  /** Makes the PBX not know `action` (or know it again). */
  setActionKnown(action: string, known: boolean): void
  setSecret(secret: string): void
  emitUserEvent(name: string, fields?: Array<[string, string]> | Record<string, string>): void
  /** `n` UserEvents (`UserEvent: Burst`, `Seq: 1..n`) as fast as each connection takes them. */
  emitBurst(n: number): void
  startTraffic(options: TrafficOptions): void
  /** Stops random calls; returns how many were started. */
  stopTraffic(): number
  /**
   * The PBX restarts with other phones: `extensions` replace its phones, every call ends
   * without an event and every connection closes. Sessions reconnect, and their resync
   * removes the phones that are gone (`device_removed`).
   */
  restart(extensions: string[]): void
  /** Closes every client connection at once (a PBX restart). */
  dropConnections(): void
  /** Every connection goes silent for `ms` (a hung PBX). */
  stall(ms: number): void
  truth(): SimTruth
  dtmfReceived(): Array<{ channel: string; digits: string }>
  connections(): number
  logins(): number
  failedLogins(): number
  actionsReceived(): number
  activeChannels(): number
  shutdown(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}
