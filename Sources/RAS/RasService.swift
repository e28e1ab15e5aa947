/// One state change of one dial, as the RAS notifier reports it (`RasDialFunc1`: handle,
/// state, error).
public struct RasDialNotification: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The connection.
    public var handle: RasConnectionHandle
    /// The state entered (or re-reported with an error).
    public var state: RasConnState
    /// The error, if the dial failed or the connection ended.
    public var error: RasError?

    /// Makes a notification; an error with code 0 is stored as `nil`.
    public init(handle: RasConnectionHandle, state: RasConnState, error: RasError? = nil) {
        self.handle = handle
        self.state = state
        self.error = error?.code == 0 ? nil : error
    }

    public var description: String {
        error.map { "\(state) \($0)" } ?? "\(state)"
    }

    private enum CodingKeys: String, CodingKey { case handle }

    /// Decodes `{"handle", "state", "stateCode", "error", "errorName", "errorMessage"}`, the
    /// same state and error fields as ``RasConnStatus``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let fields = try StateAndErrorFields.decode(from: decoder)
        self.init(handle: try container.decode(RasConnectionHandle.self, forKey: .handle), state: fields.state, error: fields.error)
    }

    /// Encodes the shape described at ``init(from:)``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(handle, forKey: .handle)
        try StateAndErrorFields.encode(state: state, error: error, to: encoder)
    }
}

/// A connection event for any handle, as `RasConnectionNotification` signals it — but
/// saying which connection and why, so watchers need not re-enumerate.
public struct RasConnectionEvent: Sendable, Equatable, Codable {
    /// What happened.
    public enum Kind: String, Sendable, Codable {
        /// A connection reached Connected (`RASCN_Connection`).
        case connected
        /// A connection entered Disconnected: its dial failed, its carrier was lost, its
        /// device failed, or it is being hung up (`RASCN_Disconnection`).
        case disconnected
        /// The connection was torn down: its handle is invalid from now on.
        case removed
        /// A dropped link is being re-established on the same handle (`RASCN_ReConnection`,
        /// `RedialOnLinkFailure=1`); `connected` follows when it is up again.
        case reconnecting
    }

    /// What happened.
    public var kind: Kind
    /// The connection as it is at that moment.
    public var connection: RasConnection

    /// Makes an event.
    public init(kind: Kind, connection: RasConnection) {
        self.kind = kind
        self.connection = connection
    }
}

/// A dial that has been handed a connection handle.
public struct RasDialHandle: Sendable {
    /// The connection. The caller must eventually hang it up — also when the dial fails.
    public var handle: RasConnectionHandle
    /// Every state change of this dial from OpenPort on, ending with Connected or
    /// Disconnected; the stream finishes when the connection is removed.
    public var notifications: AsyncStream<RasDialNotification>

    /// Pairs a handle with its notifications.
    public init(handle: RasConnectionHandle, notifications: AsyncStream<RasDialNotification>) {
        self.handle = handle
        self.notifications = notifications
    }
}

/// The RAS client contract: `RasDial`, `RasHangUp`, `RasGetConnectStatus`,
/// `RasEnumConnections`, `RasEnumEntries` and the notifications.
///
/// Two types conform: ``ConnectionManager`` runs the connections in this process, and
/// `RASClient` (module RASService) talks to the `rasmand` daemon, where connections
/// outlive the program that dialed them. A program picks one with one line and is
/// otherwise written the same.
///
/// The rules (RAS-REFERENCE §6): ``dial(_:)`` hands back a handle as soon as the port is
/// reserved; that handle must eventually be hung up, also when the dial failed.
/// ``hangUp(_:)`` returns at once; the connection is gone only when
/// ``connectStatus(_:)`` throws ``RasError/invalidHandle`` (6).
public protocol RasService: Sendable {
    /// Starts dialing and returns as soon as the port is reserved.
    ///
    /// - Throws: errors that leave no connection behind: phonebook errors (621, 622, 623,
    ///   625), 123 a bad entry name, 87 a missing number, 749 a bad phone number, 602 the
    ///   port is already in use by another connection here, 756 the entry is being dialed
    ///   (for an entry-less dial: the same number on the same port).
    ///   Everything later — the port held by another program (633), a missing device
    ///   (608), the modem's answers — ends the connection in Disconnected with the error,
    ///   and the handle stays valid until it is hung up.
    func dial(_ parameters: RasDialParameters) async throws(RasError) -> RasDialHandle

    /// Starts an orderly teardown and returns at once. A second call while it runs does
    /// nothing. - Throws: 6 for an unknown handle, 5 if the caller may not hang it up.
    func hangUp(_ handle: RasConnectionHandle) async throws(RasError)

    /// Hangs up every connection listed under `entryName` (case-insensitive; `.5551234`
    /// for an entry-less dial). - Returns: the handles being hung up.
    /// - Throws: 6 if no connection has that name (none was dialed, or all are hung up and
    ///   deleted — the same answer as for their handles), 5 if the caller may not hang one up.
    func hangUp(entryName: String) async throws(RasError) -> [RasConnectionHandle]

    /// The status of a connection. - Throws: 6 once the connection is gone.
    func connectStatus(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnStatus

    /// The traffic and error counts of a connection (`RasGetConnectionStatistics`).
    /// - Throws: 6 once the connection is gone.
    func statistics(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnectionStatistics

    /// Every connection: connected ones, and (unlike Windows) dials in progress and failed
    /// dials not yet hung up, so another program can clean them up.
    func enumConnections() async throws(RasError) -> [RasConnection]

    /// The entries of a phonebook, or of the default phonebooks when `phonebookPath` is nil —
    /// those that can be dialed: an entry with a bad line is left out (see ``entryListing(phonebookPath:)``).
    /// - Throws: 621 or 622 when `phonebookPath` is given and cannot be read at all.
    func enumEntries(phonebookPath: String?) async throws(RasError) -> [RasEntryName]

    /// The entries as ``enumEntries(phonebookPath:)`` lists them, and a problem for every bad
    /// entry, bad line or unreadable default phonebook that was left out.
    /// - Throws: 621 or 622 when `phonebookPath` is given and cannot be read at all.
    func entryListing(phonebookPath: String?) async throws(RasError) -> RasEntryListing

    /// The devices the manager knows (`RasEnumDevices`): modems it discovered or was
    /// given, with what probing found.
    func enumDevices() async throws(RasError) -> [RasDevice]

    /// The state changes of one connection from now on, starting with its current state.
    /// - Throws: 6 for an unknown handle.
    func notifications(for handle: RasConnectionHandle) async throws(RasError) -> AsyncStream<RasDialNotification>

    /// Connected/disconnected/removed events for every connection, from now on.
    func connectionEvents() async throws(RasError) -> AsyncStream<RasConnectionEvent>
}

extension RasService {
    /// Waits until `handle` is gone — its status answers ``RasError/invalidHandle`` (6), the
    /// RAS way to know a teardown is complete — asking every `interval`, for at most `timeout`.
    /// - Throws: 753 ``RasError/hangupFailed`` when it is still there after `timeout`; any
    ///   other error of ``connectStatus(_:)`` (711 when the daemon went away).
    public func waitUntilDeleted(
        _ handle: RasConnectionHandle, timeout: Duration = .seconds(60), interval: Duration = .milliseconds(20)
    ) async throws(RasError) {
        let deadline = ContinuousClock.now + timeout
        while true {
            do throws(RasError) {
                _ = try await connectStatus(handle)
            } catch where error == .invalidHandle {
                return
            }
            guard ContinuousClock.now < deadline else {
                throw RasError.hangupFailed.with(detail: "connection \(handle) is still there after \(timeout)")
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Hangs `handle` up and waits until it is gone (``waitUntilDeleted(_:timeout:interval:)``):
    /// the modem on-hook, the port closed and unlocked. A handle already gone is fine.
    /// - Throws: 5 when the caller may not hang it up; 753 when it is still there after `timeout`.
    public func hangUpAndWait(_ handle: RasConnectionHandle, timeout: Duration = .seconds(60)) async throws(RasError) {
        do throws(RasError) {
            try await hangUp(handle)
        } catch where error == .invalidHandle {
            return
        }
        try await waitUntilDeleted(handle, timeout: timeout)
    }
}
