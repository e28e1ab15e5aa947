import Foundation
import Hayes
import Logging
import Serial
import SystemIO

/// The connection manager: owns ports and modems, runs one ``DialMachine`` per connection,
/// and serves the RAS contract (``RasService``) in this process.
///
/// Each connection's I/O (open, init, dial, watching the carrier, hang-up) runs as a chain
/// of tasks, one step after the other, so a modem is only ever talked to by one task.
/// Every result comes back into the actor as a ``DialMachine/Event``; the machine says what
/// to do next. A handle is never reused while the manager lives.
public actor ConnectionManager: RasService, RasListening {
    /// How the manager finds ports and talks to modems.
    public struct Configuration: Sendable {
        /// The UUCP lock directory; `nil` picks `/run/lock` or `/var/lock`.
        public var lockDirectory: String?
        /// Time limits of modem sessions.
        public var timing: ModemTiming
        /// Where phonebooks are looked for.
        public var searchPath: PhonebookSearchPath
        /// The port speed when an entry sets no `ConnectBPS`.
        public var defaultSpeed: BaudRate
        /// Maps a modem's name (`Device=`) to its port path; `nil` if no such modem is present.
        public var resolveDevice: @Sendable (String) async -> String?
        /// Port paths of modems an entry-less dial without a device may use, in order.
        public var availableDevices: @Sendable () async -> [String]
        /// The devices ``ConnectionManager/enumDevices()`` lists; a connection on one of them
        /// takes its device name (RAS's `szDeviceName`) from here.
        public var listDevices: @Sendable () async -> [RasDevice]
        /// Where each connected entry's data path gets a stable link, `<folder>/<entry name>`
        /// (`rasmand`: `<runtime dir>/swift-ras/lines`); `nil`: no links.
        public var linesDirectory: String?
        /// A private folder for pppd's hook scripts; `nil`: the temporary folder.
        public var stateDirectory: String?
        /// A listening line that hears no `RING` for this long after one considers the call
        /// given up (rings come every 6 s in North America, 3 s in much of Europe).
        public var ringGap: Duration = .seconds(8)
        /// Caller ID is complete once the modem says nothing more for this long (its lines
        /// come in one burst between the first and second ring).
        public var callerIDQuiet: Duration = .milliseconds(150)
        /// Told when dials end, when connections are removed and, on request, each
        /// connection's statistics (see ``RasConnectionObservation``); `rasmand` counts with it.
        /// Called on the manager, in the order things happen: it must return at once and
        /// must not call the manager.
        public var observer: (@Sendable (RasConnectionObservation) -> Void)?

        /// A configuration; by default names resolve to nothing and no modem is known, so
        /// entries must give a `Port`.
        public init(
            lockDirectory: String? = nil, timing: ModemTiming = ModemTiming(),
            searchPath: PhonebookSearchPath = PhonebookSearchPath(), defaultSpeed: BaudRate = .b115200,
            resolveDevice: @escaping @Sendable (String) async -> String? = { _ in nil },
            availableDevices: @escaping @Sendable () async -> [String] = { [] },
            listDevices: @escaping @Sendable () async -> [RasDevice] = { [] }
        ) {
            self.lockDirectory = lockDirectory
            self.timing = timing
            self.searchPath = searchPath
            self.defaultSpeed = defaultSpeed
            self.resolveDevice = resolveDevice
            self.availableDevices = availableDevices
            self.listDevices = listDevices
        }
    }

    struct Connection {
        let handle: RasConnectionHandle
        let plan: RasDialPlan
        /// What to dial (`nil` for an answered call).
        let dialString: DialString?
        let owner: UInt32
        let portPath: String?
        /// How the port may be opened (see ``PortAccess``).
        let portAccess: PortAccess
        /// Whose rights a `PasswordFile` is read with (`nil`: the manager's own).
        let passwordReader: PeerCredentials?
        let deviceName: String
        var machine: DialMachine.State
        var port: (any ModemPort)?
        var lock: UUCPLock?
        var session: ModemSession?
        /// The step running now; the next one waits for it.
        var work: Task<Void, Never>?
        var redialTimer: Task<Void, Never>?
        var subscribers: [Int: Subscriber] = [:]
        var announcedDisconnect = false
        /// The data path (a pty) while the call is up.
        var dataLine: PseudoTerminal?
        /// The stable link to it, `lines/<entry>`.
        var dataLink: String?
        /// The relay between the modem and the data path.
        var online: Task<Void, Never>?
        /// Its counters (kept after the call for statistics).
        var traffic: LineTraffic?
        var connectedAt: ContinuousClock.Instant?
        var endedAt: ContinuousClock.Instant?
        /// The driver's error counters at `CONNECT` (nil when it keeps none).
        var errorBaseline: LineErrorCounters?
        var ppp: PPPLink?
        var pppStopping: Task<Void, Never>?
        /// The data path being closed; the modem's hang-up waits for it.
        var closing: Task<Void, Never>?
        /// Dialed here, or answered by a listening line.
        var direction: RasConnectionDirection = .outgoing
        /// Who called (answered calls).
        var caller: CallerID?
        /// The listening line that answered the call: it owns the port and gets it back.
        var listenerKey: String?
        /// Ends a failed answered call's listing after `IncomingRetentionSeconds`.
        var retentionTimer: Task<Void, Never>?
        /// When the dial (or the answer) started, for the observer.
        var startedAt: ContinuousClock.Instant?
        /// Whether the observer has been told how the dial ended.
        var dialReported = false
        /// The first hang-up request, for the observer.
        var hangUpRequestedAt: ContinuousClock.Instant?
        /// Whether the port is this connection's to close (not a listening line's).
        var ownsPort: Bool { listenerKey == nil }

        var record: RasConnection {
            var record = RasConnection(
                handle: handle, entryName: plan.entryName, deviceType: .modem, deviceName: deviceName,
                phonebookPath: plan.phonebookPath, phoneNumber: plan.settings.phoneNumber,
                state: machine.connectionState, error: machine.error)
            record.direction = direction
            record.callerID = caller
            return record
        }

        var status: RasConnStatus {
            var status = RasConnStatus(
                handle: handle, entryName: plan.entryName, deviceType: .modem, deviceName: deviceName,
                phoneNumber: plan.settings.phoneNumber, dialState: machine,
                dataPath: machine.hasDataPath ? dataLine?.slavePath : nil)
            status.direction = direction
            status.callerID = caller
            return status
        }

        var statistics: RasConnectionStatistics {
            let counts = traffic?.snapshot
            let end = endedAt ?? .now
            let errors = port.flatMap { $0.errorCounters() }.map { now in errorBaseline.map(now.since) ?? now }
            return RasConnectionStatistics(
                handle: handle, bytesSent: counts?.bytesSent ?? 0, bytesReceived: counts?.bytesReceived ?? 0,
                chunksSent: counts?.chunksSent ?? 0, chunksReceived: counts?.chunksReceived ?? 0,
                connectDurationMs: connectedAt.map { Int($0.duration(to: end).milliseconds) } ?? 0,
                connectRate: machine.connectRate, connectProtocol: machine.connectProtocol,
                connectDetails: machine.connectDetails, lineErrorsAvailable: errors != nil,
                framingErrors: errors?.framing, parityErrors: errors?.parity, overrunErrors: errors?.overrun,
                bufferOverrunErrors: (counts?.bufferOverruns ?? 0) + (errors?.bufferOverrun ?? 0))
        }
    }

    /// A subscriber of one connection's notifications, and whether it sees their details.
    struct Subscriber {
        let continuation: AsyncStream<RasDialNotification>.Continuation
        let seesDetails: Bool
    }

    /// Who reserved a port.
    enum PortHolder: Equatable, CustomStringConvertible {
        /// A connection (dialing, connected, or failed and not hung up).
        case connection(RasConnectionHandle)
        /// A listening line (by its key), and the calls it answers.
        case listener(String)

        var description: String {
            switch self {
            case .connection(let handle): "connection \(handle)"
            case .listener(let key): "the listening line '\(key)'"
            }
        }
    }

    /// Whether a connection's port may be opened as the manager's own user.
    enum PortAccess: Sendable {
        /// A device the manager knows (its device table, `--device`), a port of the
        /// all-users phonebook, or a dial made in this process: opened as is.
        case trusted
        /// A path a client named: checked for that client; opened only if it is still that device.
        case checked(SerialDeviceCheck.Identity)
        /// A path a client named that did not exist when checked: the open fails with this
        /// error, without opening whatever appears there later.
        case missing(RasError)
    }

    /// The configuration.
    public let configuration: Configuration
    let logger: Logger
    var connections: [RasConnectionHandle: Connection] = [:]
    /// Reserved ports (canonical paths) and the connection holding each.
    var portOwners: [String: PortHolder] = [:]
    var lastHandle: UInt64 = 0
    var nextSubscriber = 0
    private var eventSubscribers: [Int: AsyncStream<RasConnectionEvent>.Continuation] = [:]
    /// Listening lines by key (the entry name, lower-cased).
    var listeners: [String: Listener] = [:]
    var watchSubscribers: [Int: WatchSubscriber] = [:]

    /// A `watch()` stream and who watches (each event is cut to what they may see).
    struct WatchSubscriber {
        let continuation: AsyncStream<RasWatchEvent>.Continuation
        let viewer: RasViewer
    }
    var shuttingDown = false

    /// A manager. `logger` gets one line per state change (handle, entry, state name and
    /// number, error number) and per hang-up step.
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "swift-ras")) {
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: RasService

    public func dial(_ parameters: RasDialParameters) async throws(RasError) -> RasDialHandle {
        try await dial(parameters, owner: ProcessIdentity.userID)
    }

    /// ``dial(_:)`` on behalf of the user `owner`: only that user and root may hang the
    /// connection up. The port is opened with this process's rights, unchecked.
    public func dial(_ parameters: RasDialParameters, owner: UInt32) async throws(RasError) -> RasDialHandle {
        try await dial(parameters, owner: owner, requester: nil)
    }

    /// ``dial(_:)`` on behalf of a client (the daemon passes its peer's credentials), which
    /// owns the connection. The phonebook is read only if the client could read it, and a
    /// port the manager does not know (not in its device table, not a `--device` port, not
    /// from the all-users phonebook) is opened only if it is a serial port the client could
    /// open itself.
    /// - Throws: besides the errors of ``dial(_:)``, 5 ``RasError/accessDenied`` when the
    ///   client may not open the port, 609 ``RasError/deviceTypeDoesNotExist`` when the path is
    ///   not a serial port; nothing was opened then.
    public func dial(_ parameters: RasDialParameters, requester: PeerCredentials) async throws(RasError) -> RasDialHandle {
        try await dial(parameters, owner: requester.uid, requester: requester)
    }

    private func dial(_ parameters: RasDialParameters, owner: UInt32, requester: PeerCredentials?) async throws(RasError) -> RasDialHandle {
        let plan = try parameters.resolve(searchPath: configuration.searchPath, requester: requester)
        let dialString = try Self.dialString(for: plan.settings)
        // Look the device up first: the checks below must see the table as it is when the
        // connection is inserted, with no suspension in between.
        let (path, listed) = await lookUpDevice(for: plan.settings)
        let access = try portAccess(path, plan: plan, listed: listed != nil, requester: requester)
        let trustedPhonebook = try checkPPPChoices(plan, requester: requester)
        guard !shuttingDown else {
            throw RasError.portNotAvailable.with(detail: "the connection manager is shutting down")
        }
        // An entry is one connection at a time. Entry-less dials all share RAS's name
        // ".<number>", but the same number on two modems is two calls: only a dial on the
        // same port is the same connection.
        let isEntry = if case .entry = parameters.target { true } else { false }
        if let existing = connections.values.first(where: {
            PhonebookEntry.namesMatch($0.plan.entryName, plan.entryName) && $0.machine.phase.isLive
                && (isEntry || $0.portPath == path)
        }) {
            guard existing.machine.phase == .connected else {
                throw RasError.dialAlreadyInProgress.with(detail: "'\(plan.entryName)' is being dialed as \(existing.handle)")
            }
            // RAS answers a dial of a connected entry with that connection.
            return RasDialHandle(handle: existing.handle, notifications: subscribe(existing.handle) ?? AsyncStream { $0.finish() })
        }
        if let path, let holder = portOwners[path] {
            throw RasError.portAlreadyOpen.with(detail: "\(path) is in use by \(holder)")
        }
        lastHandle += 1
        let handle = RasConnectionHandle(rawValue: lastHandle)
        connections[handle] = Connection(
            handle: handle, plan: plan, dialString: dialString, owner: owner, portPath: path, portAccess: access,
            passwordReader: trustedPhonebook ? nil : requester,
            deviceName: listed?.deviceName ?? plan.settings.device ?? path ?? "",
            machine: DialMachine.State(settings: plan.settings))
        if let path { portOwners[path] = .connection(handle) }
        let notifications = subscribe(handle) ?? AsyncStream { $0.finish() }
        apply(.start, to: handle)
        return RasDialHandle(handle: handle, notifications: notifications)
    }

    public func hangUp(_ handle: RasConnectionHandle) async throws(RasError) {
        try hangUp(handle, caller: ProcessIdentity.userID)
    }

    /// ``hangUp(_:)`` on behalf of the user `caller`: 5 unless it is root or the owner.
    public func hangUp(_ handle: RasConnectionHandle, caller: UInt32) throws(RasError) {
        guard let connection = connections[handle] else { throw RasError.invalidHandle }
        guard caller == 0 || caller == connection.owner else {
            throw RasError.accessDenied.with(detail: "connection \(handle) belongs to uid \(connection.owner)")
        }
        apply(.hangUpRequested, to: handle)
    }

    public func hangUp(entryName: String) async throws(RasError) -> [RasConnectionHandle] {
        try hangUp(entryName: entryName, caller: ProcessIdentity.userID)
    }

    /// ``hangUp(entryName:)`` on behalf of the user `caller`.
    public func hangUp(entryName: String, caller: UInt32) throws(RasError) -> [RasConnectionHandle] {
        let matching = connections.values
            .filter { PhonebookEntry.namesMatch($0.plan.entryName, entryName) }
            .map(\.handle).sorted()
        guard !matching.isEmpty else { throw Self.noConnection(named: entryName) }
        for handle in matching {
            guard let owner = connections[handle]?.owner, caller == 0 || caller == owner else {
                throw RasError.accessDenied.with(detail: "connection \(handle) belongs to another user")
            }
        }
        for handle in matching { apply(.hangUpRequested, to: handle) }
        return matching
    }

    /// The error for a name that matches no connection: 6, as for a handle that matches
    /// none — a name stands for the connections that have it, and once they are hung up and
    /// deleted it answers what their handles answer. (623 is for phonebook look-ups.)
    public static func noConnection(named name: String) -> RasError {
        RasError.invalidHandle.with(detail: "no connection named '\(name)'")
    }

    public func connectStatus(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnStatus {
        try connectStatus(handle, viewer: .everything)
    }

    /// ``connectStatus(_:)`` as `viewer` may see it: another user's connection without its
    /// details (``RasConnStatus/redactedForOthers``: no data path, projection, number…).
    public func connectStatus(_ handle: RasConnectionHandle, viewer: RasViewer) throws(RasError) -> RasConnStatus {
        guard let connection = connections[handle] else { throw RasError.invalidHandle }
        return viewer.seesDetails(ofOwner: connection.owner) ? connection.status : connection.status.redactedForOthers
    }

    public func statistics(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnectionStatistics {
        try statistics(handle, viewer: .everything)
    }

    /// ``statistics(_:)`` for `viewer`: 5 (``RasError/accessDenied``) for another user's connection.
    public func statistics(_ handle: RasConnectionHandle, viewer: RasViewer) throws(RasError) -> RasConnectionStatistics {
        guard let connection = connections[handle] else { throw RasError.invalidHandle }
        guard viewer.seesDetails(ofOwner: connection.owner) else {
            throw RasError.accessDenied.with(detail: "the statistics of connection \(handle) are its owner's")
        }
        return connection.statistics
    }

    public func enumConnections() async throws(RasError) -> [RasConnection] {
        enumConnections(viewer: .everything)
    }

    /// ``enumConnections()`` as `viewer` may see them: every connection is listed, another
    /// user's without its details (``RasConnection/redactedForOthers``).
    public func enumConnections(viewer: RasViewer) -> [RasConnection] {
        connections.values.sorted { $0.handle < $1.handle }.map {
            viewer.seesDetails(ofOwner: $0.owner) ? $0.record : $0.record.redactedForOthers
        }
    }

    /// Tells the ``Configuration/observer`` the statistics of every connection now, in handle
    /// order (``RasConnectionObservation/statistics(_:_:)``). A metrics scrape asks this way
    /// rather than with ``statistics(_:)``: on the manager, a connection's statistics never
    /// come after its ``RasConnectionObservation/removed(_:_:hangUpDuration:)``, so its bytes
    /// are never counted twice.
    public func reportStatistics() {
        guard let observer = configuration.observer else { return }
        for connection in connections.values.sorted(by: { $0.handle < $1.handle }) {
            observer(.statistics(connection.record, connection.statistics))
        }
    }

    public func enumEntries(phonebookPath: String?) async throws(RasError) -> [RasEntryName] {
        try configuration.searchPath.enumerateEntries(phonebookPath: phonebookPath)
    }

    public func entryListing(phonebookPath: String?) async throws(RasError) -> RasEntryListing {
        try configuration.searchPath.entryListing(phonebookPath: phonebookPath)
    }

    /// ``entryListing(phonebookPath:)`` for a client: a phonebook it names is read only if it
    /// could read it itself (see ``Phonebook/load(from:requester:)``); the default phonebooks
    /// are the daemon's own and are read as before.
    public func entryListing(phonebookPath: String?, requester: PeerCredentials) throws(RasError) -> RasEntryListing {
        try configuration.searchPath.entryListing(phonebookPath: phonebookPath, requester: requester)
    }

    public func enumDevices() async throws(RasError) -> [RasDevice] {
        await configuration.listDevices()
    }

    public func notifications(for handle: RasConnectionHandle) async throws(RasError) -> AsyncStream<RasDialNotification> {
        try notifications(for: handle, viewer: .everything)
    }

    /// ``notifications(for:)`` as `viewer` may see them: another user's connection's
    /// notifications carry no error detail.
    public func notifications(for handle: RasConnectionHandle, viewer: RasViewer) throws(RasError) -> AsyncStream<RasDialNotification> {
        guard let stream = subscribe(handle, viewer: viewer) else { throw RasError.invalidHandle }
        return stream
    }

    public func connectionEvents() async throws(RasError) -> AsyncStream<RasConnectionEvent> {
        let (id, stream, continuation) = newEventStream(of: RasConnectionEvent.self)
        eventSubscribers[id] = continuation
        return stream
    }

    public func watch() async throws(RasError) -> AsyncStream<RasWatchEvent> {
        watch(viewer: .everything)
    }

    /// ``watch()`` as `viewer` may see it: the events of another user's connections and
    /// lines without their details (``RasConnection/redactedForOthers``,
    /// ``RasListenerEvent/redactedForOthers``).
    public func watch(viewer: RasViewer) -> AsyncStream<RasWatchEvent> {
        let (id, stream, continuation) = newEventStream(of: RasWatchEvent.self)
        watchSubscribers[id] = WatchSubscriber(continuation: continuation, viewer: viewer)
        return stream
    }

    /// A stream for a watcher (1024 events buffered, the oldest dropped beyond); its id
    /// leaves every watcher list when the stream ends.
    private func newEventStream<Event: Sendable>(of: Event.Type) -> (Int, AsyncStream<Event>, AsyncStream<Event>.Continuation) {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        nextSubscriber += 1
        let id = nextSubscriber
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropWatcher(id) }
        }
        return (id, stream, continuation)
    }

    private func dropWatcher(_ id: Int) {
        eventSubscribers[id] = nil
        watchSubscribers[id] = nil
    }

    /// The owner (uid) of a connection, if it exists.
    public func owner(of handle: RasConnectionHandle) -> UInt32? { connections[handle]?.owner }

    /// Hangs up every connection in handle order, stops every listening line, and waits until
    /// all are torn down (modems on-hook, ports closed, locks released) or `timeout` passes.
    /// New dials and listens are refused from the start. - Returns: whether every connection was torn down in time.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(30)) async -> Bool {
        shuttingDown = true
        for handle in connections.keys.sorted() { apply(.hangUpRequested, to: handle) }
        stopAllListeners()
        let deadline = ContinuousClock.now + timeout
        while !(connections.isEmpty && listeners.isEmpty) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return connections.isEmpty && listeners.isEmpty
    }

    // MARK: The machine

    func apply(_ event: DialMachine.Event, to handle: RasConnectionHandle) {
        guard var connection = connections[handle] else { return }
        if Self.dropsLink(event), connection.machine.reconnects > 0, let policy = connection.machine.reconnect,
           let since = connection.connectedAt, since.duration(to: .now) >= policy.stableAfter {
            // The link had stayed up long enough: this drop starts the backoff afresh.
            apply(.linkStable, to: handle)
            guard let refreshed = connections[handle] else { return }
            connection = refreshed
        }
        if event == .start, connection.startedAt == nil { connection.startedAt = .now }
        if event == .hangUpRequested, connection.hangUpRequestedAt == nil { connection.hangUpRequestedAt = .now }
        let previousPhase = connection.machine.phase
        let (next, effects) = DialMachine.step(connection.machine, event)
        connection.machine = next
        connections[handle] = connection
        for effect in effects { perform(effect, for: handle) }
        if next.phase == .failed, previousPhase != .failed, let key = connection.listenerKey {
            startRetention(handle, listener: key)
        }
        // A hang-up ends a healthy connection without a notification (RAS notifications
        // stop at RasHangUp), but watchers still learn it is disconnected.
        if event == .hangUpRequested, next.connectionState == .disconnected,
           let current = connections[handle], !current.announcedDisconnect {
            connections[handle]?.announcedDisconnect = true
            publish(.disconnected, current)
        }
        // A dial hung up before its result ends with 631, as RasDial's would.
        if event == .hangUpRequested { reportDialEnd(handle, error: .userDisconnection) }
    }

    /// Tells the observer, once per connection, how its dial (or answer) ended.
    private func reportDialEnd(_ handle: RasConnectionHandle, error: RasError?) {
        guard let connection = connections[handle], !connection.dialReported else { return }
        connections[handle]?.dialReported = true
        guard let observer = configuration.observer else { return }
        let duration = connection.startedAt.map { $0.duration(to: .now) } ?? .zero
        observer(.dialEnded(connection.record, error: error, duration: duration))
    }

    private func perform(_ effect: DialMachine.Effect, for handle: RasConnectionHandle) {
        guard let connection = connections[handle] else { return }
        switch effect {
        case .notify(let state, let error):
            notify(handle, state, error)
        case .openPort:
            let path = connection.portPath
            let opening = portOpening(connection.plan.settings, access: connection.portAccess, logger: connectionLogger(connection))
            startWork(handle) {
                switch await opening.open(path) {
                case .success(let opened):
                    await self.portOpened(handle, port: opened.port, lock: opened.lock, session: opened.session)
                case .failure(let error):
                    await self.apply(.portFailed(error), to: handle)
                }
            }
        case .initializeModem:
            guard let session = connection.session else { return }
            let settings = connection.plan.settings
            startWork(handle) {
                let outcome = await Self.initialization(ready: DialMachine.Event.modemReady, deviceFailed: .deviceFailed, failed: { .modemFailed($0) }) {
                    () async throws(ModemError) in
                    try await session.initialize(initStrings: settings.initStrings, timeout: settings.initTimeout)
                }
                if let outcome { await self.apply(outcome, to: handle) }
            }
        case .dial:
            guard let session = connection.session, let dialString = connection.dialString else { return }
            let timeout = connection.plan.settings.dialTimeout
            startWork(handle) {
                let outcome: DialOutcome
                do throws(ModemError) {
                    outcome = try await session.dial(dialString, timeout: timeout)
                } catch .cancelled {
                    return
                } catch {
                    await self.apply(.deviceFailed, to: handle)
                    return
                }
                await self.apply(.dialResult(Self.modemOutcome(outcome)), to: handle)
            }
        case .answerCall:
            guard let session = connection.session else { return }
            let timeout = connection.plan.settings.dialTimeout
            let key = connection.listenerKey
            startWork(handle) {
                let outcome: DialOutcome
                do throws(ModemError) {
                    outcome = try await session.answer(timeout: timeout)
                } catch .cancelled {
                    return
                } catch {
                    await self.apply(.deviceFailed, to: handle)
                    return
                }
                let mapped = Self.modemOutcome(outcome)
                await self.apply(.dialResult(mapped), to: handle)
                if let key { await self.listenerEvent(.answered(mapped), key: key) }
            }
        case .scheduleRedial(let pause):
            connections[handle]?.redialTimer = Task {
                do { try await Task.sleep(for: pause) } catch { return }
                self.apply(.redialTimerFired, to: handle)
            }
        case .cancelRedial:
            connections[handle]?.redialTimer?.cancel()
            connections[handle]?.redialTimer = nil
        case .abortDial:
            // Stop waiting for the dial's result; the hang-up that follows aborts the dial
            // on the modem (a byte, then NO CARRIER) before anything else.
            connection.work?.cancel()
        case .hangUpModem, .releasePort:
            connection.work?.cancel()
            connections[handle]?.redialTimer?.cancel()
            let session = connection.session
            let port = connection.ownsPort ? connection.port : nil
            let lock = connection.ownsPort ? connection.lock : nil
            let closing = connection.closing
            let listener = connection.listenerKey
            let answer: DialMachine.Event = effect == .hangUpModem ? .teardownComplete : .portClosed
            startWork(handle) {
                await closing?.value
                if let session {
                    let report = await session.hangUp()
                    await self.hungUp(handle, report: report)
                }
                port?.close()
                lock?.release()
                await self.portReleased(handle)
                // An answered call gives the port back to its listening line, which re-arms.
                if let listener { await self.callEnded(handle, listener: listener) }
                await self.apply(answer, to: handle)
            }
        case .deleteConnection:
            delete(handle)
        case .openDataPath:
            openDataPath(handle)
        case .startPPP:
            startPPP(handle)
        case .stopPPP(let graceful):
            guard let ppp = connection.ppp else { return }
            connections[handle]?.pppStopping = Task { await ppp.stop(graceful: graceful) }
        case .announceReconnect(let attempt, let pause):
            connectionLogger(connection).notice("link dropped: reconnecting", metadata: [
                "reconnect": "\(attempt)", "pause-ms": "\(pause.milliseconds)",
                "error": "\(connection.machine.error?.code ?? 0)",
            ])
            // The next drop is a new disconnection for watchers.
            connections[handle]?.announcedDisconnect = false
            if let current = connections[handle] { publish(.reconnecting, current) }
        case .closeDataPath:
            let stopping = connection.pppStopping
            let online = connection.online
            let line = connection.dataLine
            let link = connection.dataLink
            connections[handle]?.endedAt = .now
            connections[handle]?.closing = Task {
                await stopping?.value
                online?.cancel()
                await online?.value
                // The program on the data path reads end-of-file / EIO from here on.
                line?.close()
                if let link, let line { SymbolicLink.remove(at: link, ifTarget: line.slavePath) }
            }
        }
    }

    // MARK: The data path

    /// Makes the pty, gives it to the owner, links it under `lines/`, and starts the relay.
    private func openDataPath(_ handle: RasConnectionHandle) {
        guard let connection = connections[handle], let session = connection.session, let port = connection.port else { return }
        let logger = connectionLogger(connection)
        let line: PseudoTerminal
        do {
            line = try PseudoTerminal()
            try line.setSlaveOwner(uid: connection.owner, gid: nil)
            if let options = try? port.currentOptions() {
                try line.setSlaveSettings(speed: options.speed, hardwareFlowControl: options.flowControl == .hardware)
            }
        } catch {
            logger.error("cannot make the data path", metadata: ["error": "\(error)"])
            let failure = RasError.hardwareFailure.with(detail: "cannot make the data path: \(error)")
            Task { self.apply(.dataPathFailed(failure), to: handle) }
            return
        }
        var link: String?
        if let folder = configuration.linesDirectory {
            let path = folder + "/" + Self.linkName(for: connection.plan.entryName)
            do {
                try SymbolicLink.replace(at: path, target: line.slavePath)
                link = path
            } catch {
                logger.warning("cannot link the data path", metadata: ["link": "\(path)", "error": "\(error)"])
            }
        }
        let traffic = LineTraffic()
        connections[handle]?.dataLine = line
        connections[handle]?.dataLink = link
        connections[handle]?.traffic = traffic
        connections[handle]?.connectedAt = .now
        connections[handle]?.endedAt = nil
        connections[handle]?.errorBaseline = port.errorCounters()
        logger.info("data path", metadata: ["path": "\(line.slavePath)", "link": "\(link ?? "")"])
        let idleLimit = connection.plan.settings.idleDisconnect
        connections[handle]?.online = Task {
            let end: OnlineEnd
            do { end = try await session.carryData(through: line, traffic: traffic, idleLimit: idleLimit) } catch { return }
            switch end {
            case .carrierLost: self.apply(.carrierLost, to: handle)
            case .deviceGone: self.apply(.deviceFailed, to: handle)
            case .idle: self.apply(.idleTimeout, to: handle)
            }
        }
    }

    /// A file name for an entry's link: `/` and NUL become `_`, and `.`/`..` get a `_` in front.
    static func linkName(for entryName: String) -> String {
        let cleaned = String(entryName.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "_" + cleaned : cleaned
    }

    /// Runs pppd on the data path; its progress comes back as machine events.
    private func startPPP(_ handle: RasConnectionHandle) {
        guard let connection = connections[handle], let ppp = connection.plan.settings.ppp,
              let line = connection.dataLine else { return }
        let logger = connectionLogger(connection)
        let folder = (configuration.stateDirectory ?? FileManager.default.temporaryDirectory.path)
            + "/swift-ras-ppp-\(ProcessIdentity.processID)-\(handle.rawValue)-\(UInt32.random(in: 0...UInt32.max))"
        let speed = (try? connection.port?.currentOptions().speed.rawValue) ?? configuration.defaultSpeed.rawValue
        let failed = { (error: RasError) in
            logger.error("pppd did not start", metadata: ["error": "\(error)"])
            Task { self.apply(.pppExited(error), to: handle) }
        }
        var password: [UInt8]?
        if let file = ppp.passwordFile {
            do {
                let bytes = try SafeFile.readRegularFile(file, maxBytes: 4096, requester: connection.passwordReader)
                password = Array(bytes.prefix { $0 != 10 && $0 != 13 })
            } catch {
                failed(RasError.authenticationFailure.with(detail: "cannot read PasswordFile: \(error)"))
                return
            }
        }
        do {
            let link = try PPPLink(
                settings: ppp, device: line.slavePath, speed: speed, folder: folder, password: password, logger: logger
            ) { [weak self] event in
                guard let self else { return }
                switch event {
                case .report(.authenticated): await self.apply(.pppAuthenticated, to: handle)
                case .report(.projected(let projection)): await self.apply(.pppProjected(projection), to: handle)
                case .exited(let end): await self.apply(.pppExited(PPPExit.rasError(for: end)), to: handle)
                }
            }
            connections[handle]?.ppp = link
        } catch {
            failed(error)
        }
    }

    /// Runs `body` after the connection's current step has finished.
    func startWork(_ handle: RasConnectionHandle, _ body: @escaping @Sendable () async -> Void) {
        // Read first: an optional-chained assignment whose value reads the same dictionary is
        // an overlapping access.
        let previous = connections[handle]?.work
        connections[handle]?.work = Self.chained(after: previous, body)
    }

    private func portOpened(_ handle: RasConnectionHandle, port: any ModemPort, lock: UUCPLock?, session: ModemSession) {
        guard connections[handle] != nil else {
            port.close()
            lock?.release()
            return
        }
        connections[handle]?.port = port
        connections[handle]?.lock = lock
        connections[handle]?.session = session
        apply(.portOpened, to: handle)
    }

    private func portReleased(_ handle: RasConnectionHandle) {
        connections[handle]?.port = nil
        connections[handle]?.lock = nil
        connections[handle]?.session = nil
    }

    func hungUp(_ handle: RasConnectionHandle, report: HangUpReport) {
        guard let connection = connections[handle] else { return }
        let logger = connectionLogger(connection)
        if report.confirmed {
            logger.info("modem on-hook", metadata: ["method": "\(report.method.rawValue)"])
        } else {
            logger.warning("modem did not confirm on-hook; closing the port with HUPCL", metadata: ["report": "\(report)"])
        }
    }

    func delete(_ handle: RasConnectionHandle) {
        guard let connection = connections.removeValue(forKey: handle) else { return }
        if let path = connection.portPath, portOwners[path] == .connection(handle) { portOwners[path] = nil }
        // Normally already done by the teardown; never leave a pty, a link or pppd behind.
        connection.online?.cancel()
        if let line = connection.dataLine {
            line.close()
            if let link = connection.dataLink { SymbolicLink.remove(at: link, ifTarget: line.slavePath) }
        }
        if let ppp = connection.ppp { Task { await ppp.stop(graceful: false) } }
        connection.redialTimer?.cancel()
        connection.retentionTimer?.cancel()
        if let observer = configuration.observer {
            if !connection.dialReported {
                let duration = connection.startedAt.map { $0.duration(to: .now) } ?? .zero
                observer(.dialEnded(connection.record, error: connection.machine.error ?? .userDisconnection, duration: duration))
            }
            observer(.removed(
                connection.record, connection.statistics,
                hangUpDuration: connection.hangUpRequestedAt.map { $0.duration(to: .now) }))
        }
        for subscriber in connection.subscribers.values { subscriber.continuation.finish() }
        connectionLogger(connection).info("connection removed")
        publish(.removed, connection)
    }

    private func notify(_ handle: RasConnectionHandle, _ state: RasConnState, _ error: RasError?) {
        guard let connection = connections[handle] else { return }
        var metadata: Logger.Metadata = [
            "state": "\(state.name)", "stateCode": "\(state.rawValue)", "error": "\(error?.code ?? 0)",
        ]
        if let detail = error?.detail { metadata["detail"] = "\(detail)" }
        connectionLogger(connection).info("state", metadata: metadata)
        // The observer first: whoever the notification wakes finds the dial counted.
        if state == .connected && error == nil {
            reportDialEnd(handle, error: nil)
        } else if state == .disconnected {
            reportDialEnd(handle, error: error ?? connection.machine.error ?? .userDisconnection)
        }
        let notification = RasDialNotification(handle: handle, state: state, error: error)
        for subscriber in connection.subscribers.values {
            subscriber.continuation.yield(subscriber.seesDetails ? notification : notification.redactedForOthers)
        }
        if state == .connected && error == nil {
            publish(.connected, connection)
        } else if state == .disconnected, !connection.announcedDisconnect {
            connections[handle]?.announcedDisconnect = true
            publish(.disconnected, connection)
        }
    }

    /// A carrier loss or pppd's exit: what ends a link that reconnect brings back.
    private static func dropsLink(_ event: DialMachine.Event) -> Bool {
        switch event {
        case .carrierLost, .pppExited: true
        default: false
        }
    }

    func publish(_ kind: RasConnectionEvent.Kind, _ connection: Connection) {
        let event = RasConnectionEvent(kind: kind, connection: connection.record)
        for continuation in eventSubscribers.values { continuation.yield(event) }
        let redacted = RasConnectionEvent(kind: kind, connection: event.connection.redactedForOthers)
        for subscriber in watchSubscribers.values {
            subscriber.continuation.yield(.connection(subscriber.viewer.seesDetails(ofOwner: connection.owner) ? event : redacted))
        }
    }

    func subscribe(_ handle: RasConnectionHandle, viewer: RasViewer = .everything) -> AsyncStream<RasDialNotification>? {
        guard let connection = connections[handle] else { return nil }
        let (stream, continuation) = AsyncStream<RasDialNotification>.makeStream(bufferingPolicy: .bufferingNewest(256))
        nextSubscriber += 1
        let id = nextSubscriber
        let seesDetails = viewer.seesDetails(ofOwner: connection.owner)
        connections[handle]?.subscribers[id] = Subscriber(continuation: continuation, seesDetails: seesDetails)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropSubscriber(id, of: handle) }
        }
        if connection.machine.phase != .idle {
            let current = RasDialNotification(handle: handle, state: connection.machine.connectionState, error: connection.machine.error)
            continuation.yield(seesDetails ? current : current.redactedForOthers)
        }
        return stream
    }

    private func dropSubscriber(_ id: Int, of handle: RasConnectionHandle) {
        connections[handle]?.subscribers[id] = nil
    }

    func connectionLogger(_ connection: Connection) -> Logger {
        var logger = self.logger
        logger[metadataKey: "handle"] = "\(connection.handle)"
        logger[metadataKey: "entry"] = "\(connection.plan.entryName)"
        return logger
    }

    // MARK: Ports

    /// The port path of the settings' device, and the device table's record of it.
    func lookUpDevice(for settings: RasDialSettings) async -> (path: String?, listed: RasDevice?) {
        let path = await devicePath(for: settings)
        guard path != nil else { return (nil, nil) }
        // The device's own name, however the entry named it (a link, another case, a path):
        // names first (no system call), then the resolved paths.
        let names = [settings.device, settings.port].compactMap { $0 }
        let devices = await configuration.listDevices()
        let listed = devices.first { device in names.contains(where: device.answers(to:)) }
            ?? devices.first { device in device.path == path || SerialPort.canonicalPath(device.path) == path }
        return (path, listed)
    }

    func devicePath(for settings: RasDialSettings) async -> String? {
        if let port = settings.port { return Self.portKey(port) }
        if let name = settings.device {
            if NetworkPortAddress.isNetworkAddress(name) { return Self.portKey(name) }
            return await configuration.resolveDevice(name).map(SerialPort.canonicalPath)
        }
        let candidates = await configuration.availableDevices().map(SerialPort.canonicalPath)
        return candidates.first { portOwners[$0] == nil } ?? candidates.first
    }

    /// The key a port is known and reserved by: a device path with its links resolved, or a
    /// network port's address in its canonical spelling.
    static func portKey(_ port: String) -> String {
        if NetworkPortAddress.isNetworkAddress(port) { return (try? NetworkPortAddress(port))?.description ?? port }
        return SerialPort.canonicalPath(port)
    }

    func portOptions(for settings: RasDialSettings) -> SerialOptions {
        let speed = settings.connectBPS.flatMap(BaudRate.init(rawValue:)) ?? configuration.defaultSpeed
        return SerialOptions(speed: speed, flowControl: settings.hwFlowControl ? .hardware : .none)
    }

    /// Everything needed to lock and open a port and start a modem session on it, taken
    /// from the actor so that the open runs in a connection's or a line's work task.
    struct PortOpening: Sendable {
        let access: PortAccess
        let settings: RasDialSettings
        let options: SerialOptions
        let lockDirectory: String?
        let timing: ModemTiming
        let logger: Logger

        /// Locks and opens `path` and makes the session; nothing stays open or locked on failure.
        func open(_ path: String?) async -> Result<(port: any ModemPort, lock: UUCPLock?, session: ModemSession), RasError> {
            await ConnectionManager.openPort(path: path, access: access, settings: settings, options: options, lockDirectory: lockDirectory)
                .map { port, lock in (port, lock, ModemSession(port: port, timing: timing, logger: logger)) }
        }
    }

    /// How ports of `settings` are opened under `access`, logging to `logger`.
    func portOpening(_ settings: RasDialSettings, access: PortAccess, logger: Logger) -> PortOpening {
        PortOpening(
            access: access, settings: settings, options: portOptions(for: settings), lockDirectory: configuration.lockDirectory,
            timing: settings.modemTiming(base: configuration.timing), logger: logger)
    }

    /// Runs a modem initialisation and says how it ended, in the terms both machines use:
    /// `ready`, `deviceFailed` (the port failed: unplugged) or `failed` with the RAS error;
    /// `nil` when the task was cancelled (nothing to report).
    static func initialization<Event>(
        ready: Event, deviceFailed: Event, failed: (RasError) -> Event, _ body: () async throws(ModemError) -> Void
    ) async -> Event? {
        do throws(ModemError) {
            try await body()
            return ready
        } catch .cancelled {
            return nil
        } catch .port {
            return deviceFailed
        } catch {
            return failed(initError(error))
        }
    }

    /// A task that runs `body` once `previous` (a connection's or a line's step) has finished.
    static func chained(after previous: Task<Void, Never>?, _ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        Task {
            await previous?.value
            await body()
        }
    }

    /// Locks and opens the port; the lock is released again if the open fails.
    static func openPort(
        path: String?, access: PortAccess, settings: RasDialSettings, options: SerialOptions, lockDirectory: String?
    ) async -> Result<(any ModemPort, UUCPLock?), RasError> {
        guard let path else {
            let what = settings.device.map { "no modem named '\($0)' is present" } ?? "no modem is configured for this dial"
            return .failure(RasError.deviceDoesNotExist.with(detail: what))
        }
        if NetworkPortAddress.isNetworkAddress(path) {
            // A port on a terminal server: no device node to check or UUCP-lock; the server
            // gives its port to one client at a time.
            do {
                let port = try await NetworkPort.open(try NetworkPortAddress(path), options: options)
                return .success((port, nil))
            } catch {
                return .failure(networkPortError(error, path: path))
            }
        }
        var checked: SerialDeviceCheck.Identity?
        switch access {
        case .trusted: break
        case .checked(let identity): checked = identity
        case .missing(let error): return .failure(error)
        }
        if let bps = settings.connectBPS, BaudRate(rawValue: bps) == nil {
            return .failure(RasError.portNotAvailable.with(detail: "ConnectBPS=\(bps) is not a speed termios supports"))
        }
        let lock: UUCPLock
        do {
            lock = try UUCPLock.acquire(device: path, directory: lockDirectory)
        } catch {
            return .failure(portError(error, path: path))
        }
        do {
            return .success((try SerialPort(path: path, options: options, checked: checked), lock))
        } catch {
            lock.release()
            return .failure(portError(error, path: path))
        }
    }

    /// Whether and how the port of a new connection may be opened: see ``PortAccess``.
    func portAccess(_ path: String?, plan: RasDialPlan, listed: Bool, requester: PeerCredentials?) throws(RasError) -> PortAccess {
        guard let requester, let path, !listed, !NetworkPortAddress.isNetworkAddress(path) else { return .trusted }
        if isSystemPhonebook(plan) { return .trusted }
        do {
            return .checked(try SerialDeviceCheck.check(path, requester: requester))
        } catch {
            let refusal = Self.portError(error, path: path)
            if refusal == .deviceDoesNotExist { return .missing(refusal) }
            logger.notice("dial refused: the client may not open the port", metadata: [
                "uid": "\(requester.uid)", "pid": "\(requester.pid)", "path": "\(path)", "error": "\(refusal)",
            ])
            throw refusal
        }
    }

    /// Whether the plan's phonebook is trusted (the all-users one, or a dial made in this
    /// process). pppd runs with the daemon's rights: another user's phonebook may not choose
    /// the program or its options (a plugin would run as the daemon).
    /// - Throws: 5 when an untrusted phonebook sets `PppdPath` or `PppdOptions`.
    func checkPPPChoices(_ plan: RasDialPlan, requester: PeerCredentials?) throws(RasError) -> Bool {
        let trusted = requester == nil || isSystemPhonebook(plan)
        if let ppp = plan.settings.ppp, !trusted, let requester, requester.uid != ProcessIdentity.effectiveUserID,
           ppp.pppdPath != PPPSettings.defaultPppdPath || !ppp.options.isEmpty {
            throw RasError.accessDenied.with(
                detail: "PppdPath and PppdOptions are taken only from the all-users phonebook when the daemon runs for other users")
        }
        return trusted
    }

    /// Whether the plan's entry comes from the all-users phonebook.
    func isSystemPhonebook(_ plan: RasDialPlan) -> Bool {
        guard let phonebook = plan.phonebookPath else { return false }
        return SerialPort.canonicalPath(phonebook) == SerialPort.canonicalPath(configuration.searchPath.systemPhonebookPath)
    }

    /// The RAS error for a network port that cannot be opened: 608 for a host that does not
    /// resolve or cannot be reached, 633 for a refused connection, 638 for no answer in time,
    /// 609 for a server that does not speak RFC 2217, 630 for one that hangs up on us.
    static func networkPortError(_ error: SerialError, path: String) -> RasError {
        switch error {
        case .system(_, _, let errno) where errno == .connectionRefused:
            return RasError.portNotAvailable.with(detail: "\(path): the server refused the connection (nothing serves that port)")
        case .system(_, _, let errno) where errno == .noRouteToHost || errno == .networkUnreachable || errno == .hostIsDown:
            return RasError.deviceDoesNotExist.with(detail: "\(path): the host cannot be reached (\(errno))")
        case .timedOut:
            return RasError.requestTimeout.with(detail: "\(path): no answer from the server in time (\(error))")
        case .hangUp:
            return RasError.hardwareFailure.with(detail: "\(path): the server closed the connection while the port was being opened")
        default:
            return portError(error, path: path)
        }
    }

    /// The RAS error for a port that cannot be opened or locked.
    static func portError(_ error: SerialError, path: String) -> RasError {
        switch error {
        case .locked(_, let lockFile, let pid):
            return RasError.portNotAvailable.with(detail: "\(path) is held by process \(pid) (lock file \(lockFile))")
        case .badLockFile:
            return RasError.portNotAvailable.with(detail: "\(error)")
        case .notPermitted(_, let reason):
            return RasError.accessDenied.with(detail: "\(path): \(reason)")
        case .notSerialDevice(_, let reason):
            return RasError.deviceTypeDoesNotExist.with(detail: "\(path) is not a serial port: \(reason)")
        case .protocolViolation(_, let reason):
            return RasError.deviceTypeDoesNotExist.with(detail: "\(path): \(reason)")
        case .unresolved(_, let reason):
            return RasError.deviceDoesNotExist.with(detail: "\(path): the host name does not resolve (\(reason))")
        case .notRegularFile, .tooLarge:
            return RasError.portNotAvailable.with(detail: "\(error)")
        case .inUse:
            return RasError.portNotAvailable.with(detail: "\(path) is in use by another program")
        case .system(_, _, let errno) where errno == .noSuchFileOrDirectory || errno == .operationNotSupportedByDevice
            || errno == .noSuchAddressOrDevice || errno == .notDirectory:
            return RasError.deviceDoesNotExist.with(detail: "\(path) does not exist")
        case .system(_, _, let errno) where errno == .permissionDenied || errno == .notPermitted:
            return RasError.portNotAvailable.with(detail: "\(error)")
        case .unsupported, .unsupportedSpeed, .system:
            return RasError.portNotAvailable.with(detail: "\(error)")
        case .hangUp, .closed, .timedOut, .cancelled:
            return RasError.hardwareFailure.with(detail: "\(error)")
        }
    }

    // MARK: Mapping modem answers to RAS

    /// The dial string for the settings: the prefix's modifiers (`ATDT` → `T`) and the number.
    /// The prefix and the number are checked on their own first, so that an error names the
    /// part that is wrong and a position in that part's own text (1-based).
    static func dialString(for settings: RasDialSettings) throws(RasError) -> DialString {
        let prefix = settings.dialPrefix
        let number = settings.phoneNumber
        if let problem = PhonebookKey.dialPrefixProblem(prefix) {
            throw RasError.invalidParameter.with(detail: problem)
        }
        do throws(DialStringError) {
            _ = try DialString(number)
        } catch {
            throw RasError.badPhoneNumber.with(detail: "'\(number)': \(error)")
        }
        let dialString: DialString
        do throws(DialStringError) {
            dialString = try DialString(String(prefix.unicodeScalars.dropFirst(3)) + number)
        } catch {
            // Only the two together are wrong (too long, or 'A' + 'T' across the join):
            // positions count in the whole dial command.
            throw RasError.badPhoneNumber.with(
                detail: "dial command '\(prefix)\(number)' (DialPrefix and number): \(error.shiftingPositions(by: 3))")
        }
        if dialString.returnsToCommandMode {
            throw RasError.badPhoneNumber.with(detail: "'\(number)' ends with ';' (a voice dial, not a data call)")
        }
        return dialString
    }

    static func initError(_ error: ModemError) -> RasError {
        switch error {
        case .noResponse(let command):
            return RasError.deviceNotReady.with(detail: "the modem does not answer \(command)")
        case .rejected(let result, let command):
            return RasError.fromDevice.with(detail: "the modem answered \(result) to \(command)")
        case .invalidCommand(let problem):
            return RasError.fromDevice.with(detail: "the init string is not a valid command line: \(problem)")
        case .port(let serial):
            return RasError.hardwareFailure.with(detail: "\(serial)")
        case .cancelled:
            return RasError.userDisconnection
        }
    }

    static func modemOutcome(_ outcome: DialOutcome) -> DialMachine.ModemOutcome {
        switch outcome {
        case .connected(let info, let details):
            var connectDetails = RasConnectDetails()
            for detail in details {
                switch detail {
                case .carrier(let rate, _): connectDetails.carrierRate = rate
                case .errorControl(let text): connectDetails.errorControl = text
                case .compression(let text): connectDetails.compression = text
                case .modulation(let text): connectDetails.modulation = text
                case .callType: break
                }
            }
            return .connect(rate: info.rate, protocol: info.protocol,
                            details: connectDetails == RasConnectDetails() ? nil : connectDetails)
        case .failed(let final):
            switch final {
            case .busy: return .busy
            case .noAnswer: return .noAnswer
            case .noCarrier: return .noCarrier
            case .noDialTone, .noLine, .lineInUse: return .noDialtone
            case .voice: return .voice
            case .delayed: return .delayed
            case .blacklisted, .blacklistFull: return .blacklisted
            case .error, .unobtainableNumber, .faxError: return .error
            case .ok, .connect: return .unrecognised("\(final)")
            }
        case .noResult(let junk):
            return junk.last.map { .unrecognised($0) } ?? .timeout
        }
    }
}
