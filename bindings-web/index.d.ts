// Types of the npm package `ctilink-web` (index.js), written by hand for now. The event,
// model and error types are those of the Node binding (bindings-node/index.d.ts), so code
// written against one reads the other.

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

/** The `code` of every error: the gateway's wire codes as the Node binding names them. */
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

/**
 * Every error of ctilink-web. A wire error code this version does not know arrives as
 * `ERR_PROTOCOL` with the code in front of the message.
 */
export declare class CtilinkError extends Error {
  constructor(code: ErrorCode, message: string)
  readonly name: 'CtilinkError'
  /** Stable: branch on it. */
  readonly code: ErrorCode
}

/** Every `ErrorCode`, in the core's order. */
export declare const errorCodes: readonly ErrorCode[]

// ---------------------------------------------------------------------------------------
// The client.

/** Options of `connect`. */
export interface ConnectOptions {
  /** A name for the gateway's diagnostics page ('ctilink-web'; at most 64 characters kept). */
  client?: string
  /**
   * Reconnect with backoff when the connection drops (true): `link_down`, then once back
   * `link_up` and the events that bring the model to the gateway's fresh snapshot, ending
   * with `resynced`.
   */
  reconnect?: boolean
  /** How often to ping the gateway, which closes idle clients (15000; 0: never). */
  pingMs?: number
}

/** The connection to the gateway. */
export interface ClientStatus {
  state: 'up' | 'down' | 'closed'
  /** The gateway's PBX link, as it last reported it (when `up`). */
  pbx?: 'up' | 'down'
  /** Why the connection is down. */
  reason?: string
}

/** Listener signatures of a Client's events. */
export interface ClientEvents {
  /** Every event, in the gateway's order. */
  event: [event: Event]
  call: [event: CallEvent]
  device: [event: DeviceEvent]
  link: [event: LinkEvent]
  user: [event: UserEvent]
  /** An `error` message from the gateway; or, after reconnecting, a token it no longer takes. */
  error: [error: CtilinkError]
  /** When the client is closed (by `close()`, or for good by the gateway). */
  close: []
}

/** A client of the gateway with its model of the devices and calls it may see. */
export declare class Client implements AsyncIterable<Event> {
  private constructor()
  /** The gateway's URL (`ws://host:port/ws`). */
  readonly url: string
  /** The token's identity and device lists, from the gateway's `welcome` (`['*']`: all). */
  readonly identity: string | null
  readonly monitor: string[]
  readonly control: string[]

  on<K extends keyof ClientEvents>(name: K, listener: (...args: ClientEvents[K]) => void): this
  once<K extends keyof ClientEvents>(name: K, listener: (...args: ClientEvents[K]) => void): this
  off<K extends keyof ClientEvents>(name: K, listener: (...args: ClientEvents[K]) => void): this

  /** The events from now on, one consumer per iterator; ends when the client is closed. */
  events(): AsyncIterableIterator<Event>
  [Symbol.asyncIterator](): AsyncIterableIterator<Event>

  /** Devices and calls now, each sorted by id (a copy). */
  snapshot(): Snapshot
  device(id: string): Device | null
  call(id: string): Call | null
  status(): ClientStatus

  /**
   * Click-to-dial: rings `from`, and when it answers, calls `to`. Resolves with the call's
   * id; `id` is one the client chooses (it must start with `ctilink`).
   */
  makeCall(from: string, to: string, id?: string): Promise<string>
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
  pickup(device: string, target: string): Promise<void>
  /** Sends DTMF digits (`0-9*#A-D`) from `device` to the other party. */
  sendDtmf(call: string, device: string, digits: string): Promise<void>
  /** Do-not-disturb on or off (needs the gateway's AstDB convention). */
  setDoNotDisturb(device: string, on: boolean): Promise<void>
  /** Forwarding of `kind` to `to`, or off with `null` (needs the AstDB convention). */
  setForwarding(device: string, kind: ForwardKind, to: string | null): Promise<void>

  /**
   * Closes the connection and stops reconnecting. Commands in flight and later fail
   * `ERR_CLOSED`; iterators end; 'close' is emitted.
   */
  close(): Promise<void>
}

/**
 * Connects to the gateway's WebSocket (`ws://host:port/ws`, `wss://`) with `token`.
 * Resolves once welcomed and once `snapshot()` holds the first snapshot; rejects with
 * `ERR_AUTH_FAILED` (a token the gateway does not know), `ERR_CONNECT`, `ERR_INVALID_URL`.
 * Commands fail `ERR_LINK_DOWN` while the connection is down, with the gateway's code
 * (`ERR_NOT_ALLOWED`, `ERR_UNKNOWN_CALL`...) when refused.
 */
export declare function connect(url: string, token: string, options?: ConnectOptions): Promise<Client>
