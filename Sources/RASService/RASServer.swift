import Logging
import RAS
import Synchronization
import SystemIO

/// How much of the daemon one client, and all clients together, may hold. Every client costs
/// a descriptor and a session; every subscription a task and a bounded event buffer. Without
/// bounds, idle connections alone could use up the daemon's descriptors (`RLIMIT_NOFILE`),
/// and then no modem port, pty or phonebook could be opened.
public struct ClientLimits: Sendable, Equatable {
    /// The most clients connected at once (root's included). A client beyond it is sent one
    /// error frame (8, `ERROR_NOT_ENOUGH_MEMORY`, naming the limit) and disconnected.
    public var maximumClients: Int
    /// The most clients of one uid connected at once; root is not limited by it (only by
    /// ``maximumClients``), so the administrator can always get in while another user is at
    /// their limit.
    public var maximumClientsPerUser: Int
    /// The most open subscriptions (`dial`, `subscribe`, `watch`) of one client; a request
    /// beyond it is answered 8 and serves nothing.
    public var maximumSubscriptionsPerClient: Int

    /// Limits; by default 256 clients, 32 per user, 64 subscriptions per client.
    public init(maximumClients: Int = 256, maximumClientsPerUser: Int = 32, maximumSubscriptionsPerClient: Int = 64) {
        self.maximumClients = maximumClients
        self.maximumClientsPerUser = maximumClientsPerUser
        self.maximumSubscriptionsPerClient = maximumSubscriptionsPerClient
    }
}

/// Who is connected: the counts the ``ClientLimits`` are checked against.
private struct Admissions {
    var total = 0
    var perUser: [UInt32: Int] = [:]

    /// Admits a client of `uid`, or says which limit it is over.
    mutating func admit(_ uid: UInt32, limits: ClientLimits) -> String? {
        if total >= limits.maximumClients {
            return "rasmand serves at most \(limits.maximumClients) clients at once (--max-clients)"
        }
        if uid != 0, perUser[uid, default: 0] >= limits.maximumClientsPerUser {
            return "rasmand serves at most \(limits.maximumClientsPerUser) clients of one user at once (--max-clients-per-user); uid \(uid) has that many"
        }
        total += 1
        perUser[uid, default: 0] += 1
        return nil
    }

    mutating func leave(_ uid: UInt32) {
        total -= 1
        let left = perUser[uid, default: 1] - 1
        perUser[uid] = left > 0 ? left : nil
    }
}

/// Serves a ``ConnectionManager`` on a Unix socket (the heart of `rasmand`).
///
/// Each client gets its own task; a client's requests are answered in order. Answers and the
/// events of its subscriptions are queued for the one writer of its connection, so frames
/// never interleave; a client that does not take a frame within 5 s of its queueing is dropped.
/// Peer credentials decide ownership: a connection belongs to the uid that dialed it; any
/// uid may list it, but only that uid or root may hang it up (others get 5); a phonebook a
/// client names is read only if that client could read it (621 otherwise). A malformed,
/// oversized or unknown frame gets an error frame, and the server keeps serving this client
/// and everyone else.
public final class RASServer: Sendable {
    /// The manager served.
    public let manager: ConnectionManager
    private let listener: UnixSocketListener
    private let logger: Logger
    private let frameTimeout: Duration
    /// The bounds on clients and subscriptions.
    public let limits: ClientLimits
    private let admissions = Mutex(Admissions())

    /// A server for `manager` on `listener`, serving clients within `limits`.
    public convenience init(
        manager: ConnectionManager, listener: UnixSocketListener, logger: Logger = Logger(label: "rasmand"),
        limits: ClientLimits = ClientLimits()
    ) {
        self.init(manager: manager, listener: listener, logger: logger, frameTimeout: .seconds(5), limits: limits)
    }

    /// A server whose clients are dropped when a frame is not written `frameTimeout` after it
    /// was queued (tests shorten it).
    init(manager: ConnectionManager, listener: UnixSocketListener, logger: Logger, frameTimeout: Duration,
         limits: ClientLimits = ClientLimits()) {
        self.manager = manager
        self.listener = listener
        self.logger = logger
        self.frameTimeout = frameTimeout
        self.limits = limits
    }

    /// How many clients are connected now.
    public var clientCount: Int { admissions.withLock { $0.total } }

    /// Accepts and serves clients until the listener is closed (``stop()``) or the task is
    /// cancelled; then ends every client session.
    public func run() async {
        await withDiscardingTaskGroup { group in
            while true {
                let connection: UnixSocketConnection?
                do throws(SystemError) {
                    connection = try await listener.accept()
                } catch {
                    if case .closed = error { break }
                    if case .cancelled = error { break }
                    logger.warning("accept failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                }
                guard let connection else { continue }
                let uid = connection.peer.uid
                if let refusal = admissions.withLock({ $0.admit(uid, limits: limits) }) {
                    refuse(connection, refusal)
                    continue
                }
                group.addTask { [self] in
                    let session = ClientSession(
                        connection: connection, manager: manager, logger: logger, frameTimeout: frameTimeout,
                        maximumSubscriptions: limits.maximumSubscriptionsPerClient)
                    await session.serve()
                    self.admissions.withLock { $0.leave(uid) }
                }
            }
            group.cancelAll()
        }
    }

    /// Tells a client over a limit why (one error frame, 8, if its socket takes it at once:
    /// a new connection's send buffer is empty) and closes it, without starting a session.
    private func refuse(_ connection: UnixSocketConnection, _ reason: String) {
        logger.warning("client refused", metadata: [
            "client": "pid \(connection.peer.pid) uid \(connection.peer.uid)", "reason": "\(reason)",
        ])
        let frame = Frame.failure(to: nil, RasError.notEnoughMemory.with(detail: reason)).encodedLine()
        _ = try? connection.sendNow(frame)
        connection.close()
    }

    /// Stops accepting: closes the listener (removing the socket file). Sessions in
    /// progress end when ``run()``'s task group is cancelled or their clients leave.
    public func stop() { listener.close() }
}

/// One client of the server.
private actor ClientSession {
    private let connection: UnixSocketConnection
    /// The only writer of `connection`: every frame to this client goes through its queue.
    private let writer: FrameWriter
    private let manager: ConnectionManager
    private let logger: Logger
    private var subscriptions: [Int: Task<Void, Never>] = [:]
    private var splitter = LineSplitter()
    private let maximumSubscriptions: Int

    init(connection: UnixSocketConnection, manager: ConnectionManager, logger: Logger, frameTimeout: Duration,
         maximumSubscriptions: Int) {
        self.maximumSubscriptions = maximumSubscriptions
        var logger = logger
        logger[metadataKey: "client"] = "pid \(connection.peer.pid) uid \(connection.peer.uid)"
        self.connection = connection
        self.manager = manager
        self.logger = logger
        writer = FrameWriter(connection: connection, frameTimeout: frameTimeout) { [logger] error in
            logger.debug("dropping client", metadata: ["error": "\(error)"])
        }
    }

    private var uid: UInt32 { connection.peer.uid }
    /// What this client may see of other users' connections and lines.
    private var viewer: RasViewer { RasViewer(uid: uid) }

    func serve() async {
        logger.debug("client connected")
        await readRequests()
        for task in subscriptions.values { task.cancel() }
        subscriptions.removeAll()
        writer.close()
        await writer.closed()
    }

    /// Reads and answers requests until the client leaves, is dropped, or the task is cancelled.
    private func readRequests() async {
        while !Task.isCancelled {
            let bytes: [UInt8]
            do {
                bytes = try await connection.read(deadline: nil)
            } catch {
                if splitter.pendingCount > 0 {
                    logger.info("client left in the middle of a frame", metadata: ["bytes": "\(splitter.pendingCount)"])
                }
                logger.debug("client disconnected")
                return
            }
            for item in splitter.feed(bytes) {
                switch item {
                case .oversized:
                    await send(.failure(to: nil, RasError.invalidParameter.with(
                        detail: "frame longer than \(WireProtocol.maximumFrameBytes) bytes; skipped")))
                case .line(let line):
                    await handle(line)
                }
            }
        }
    }

    private func handle(_ line: ArraySlice<UInt8>) async {
        let request: Frame, id: Int, operation: Frame.Operation
        switch Frame.reading(requestLine: line) {
        case .refused(let failure):
            await send(failure)
            return
        case .request(let frame, let frameID, let frameOperation):
            (request, id, operation) = (frame, frameID, frameOperation)
        }
        do {
            try await perform(operation, request, id: id)
        } catch {
            await send(.failure(to: id, error))
        }
    }

    private func perform(_ operation: Frame.Operation, _ request: Frame, id: Int) async throws(RasError) {
        var response = Frame.response(to: id)
        switch operation {
        case .hello:
            response.server = ServerInfo(
                version: WireProtocol.version, pid: ProcessIdentity.processID, uid: ProcessIdentity.effectiveUserID)
        case .dial:
            guard let parameters = request.dial else { throw missing("dial") }
            try checkSubscription(id)
            if case .entry(_, let path?, _) = parameters.target { try checkPhonebook(path) }
            let dial = try await manager.dial(parameters, requester: connection.peer)
            response.handle = dial.handle
            await send(response)
            forward(dial.notifications, as: id)
            return
        case .hangUp:
            if let handle = request.handle {
                try await manager.hangUp(handle, caller: uid)
                response.handles = [handle]
            } else if let name = request.entryName {
                response.handles = try await manager.hangUp(entryName: name, caller: uid)
            } else {
                throw missing("handle or entryName")
            }
        case .status:
            guard let handle = request.handle else { throw missing("handle") }
            response.status = try await manager.connectStatus(handle, viewer: viewer)
        case .statistics:
            guard let handle = request.handle else { throw missing("handle") }
            response.statistics = try await manager.statistics(handle, viewer: viewer)
        case .enumConnections:
            response.connections = await manager.enumConnections(viewer: viewer)
        case .enumEntries:
            if let path = request.phonebookPath { try checkPhonebook(path) }
            let listing = try await manager.entryListing(phonebookPath: request.phonebookPath, requester: connection.peer)
            response.entries = listing.entries
            response.problems = listing.problems.isEmpty ? nil : listing.problems
        case .enumDevices:
            response.devices = try await manager.enumDevices()
        case .subscribe:
            guard let handle = request.handle else { throw missing("handle") }
            try checkSubscription(id)
            let stream = try await manager.notifications(for: handle, viewer: viewer)
            await send(response)
            forward(stream, as: id)
            return
        case .watch:
            try checkSubscription(id)
            let stream = await manager.watch(viewer: viewer)
            await send(response)
            forward(stream, as: id)
            return
        case .listen:
            guard let name = request.entryName else { throw missing("entryName") }
            if let path = request.phonebookPath { try checkPhonebook(path) }
            response.listener = try await manager.listen(
                RasListenParameters(entryName: name, phonebookPath: request.phonebookPath), requester: connection.peer)
        case .stopListening:
            guard let name = request.entryName else { throw missing("entryName") }
            response.listener = try await manager.stopListening(entryName: name, caller: uid)
        case .listeners:
            response.listeners = await manager.enumListeners(viewer: viewer)
        case .unsubscribe:
            guard let subscription = request.subscription else { throw missing("subscription") }
            subscriptions.removeValue(forKey: subscription)?.cancel()
        }
        await send(response)
    }

    /// A phonebook named by the client must be an absolute path (the daemon's working folder
    /// is not the client's); the manager reads it only if the client could read it itself.
    private func checkPhonebook(_ path: String) throws(RasError) {
        guard path.hasPrefix("/") else {
            throw RasError.cannotOpenPhonebook.with(detail: "'\(path)': the daemon needs an absolute phonebook path")
        }
    }

    /// A new subscription needs an `id` no open subscription of this client has (its events
    /// would be mixed up, and the older one could never be unsubscribed) and room under the
    /// per-client limit.
    private func checkSubscription(_ id: Int) throws(RasError) {
        if subscriptions[id] != nil {
            throw RasError.invalidParameter.with(detail: "id \(id) is an open subscription of this client; pick another id")
        }
        if subscriptions.count >= maximumSubscriptions {
            throw RasError.notEnoughMemory.with(
                detail: "at most \(maximumSubscriptions) open subscriptions per client; unsubscribe one first")
        }
    }

    private func missing(_ field: String) -> RasError {
        RasError.invalidParameter.with(detail: "the request needs '\(field)'")
    }

    /// Each subscription's task waits for its event to be written before it takes the next
    /// one, so a slow client holds events back in the manager's bounded stream (256
    /// notifications, 1024 connection events; the oldest are dropped beyond that), not here.
    private func forward(_ stream: AsyncStream<RasDialNotification>, as id: Int) {
        subscriptions[id] = Task {
            for await notification in stream {
                await self.send(Frame(event: Frame.Event.state.rawValue, subscription: id, notification: notification), of: id)
            }
            await self.end(id)
        }
    }

    private func forward(_ stream: AsyncStream<RasWatchEvent>, as id: Int) {
        subscriptions[id] = Task {
            for await event in stream {
                switch event {
                case .connection(let event):
                    await self.send(Frame(event: Frame.Event.connection.rawValue, subscription: id,
                                          kind: event.kind, connection: event.connection), of: id)
                case .listener(let event):
                    await self.send(Frame(event: Frame.Event.line.rawValue, subscription: id, lineEvent: event), of: id)
                }
            }
            await self.end(id)
        }
    }

    /// Queues an event of subscription `id` unless it was unsubscribed: no event of a
    /// subscription follows the answer to its `unsubscribe`.
    private func send(_ event: Frame, of id: Int) async {
        guard subscriptions[id] != nil else { return }
        await send(event)
    }

    private func end(_ id: Int) async {
        guard subscriptions.removeValue(forKey: id) != nil, !Task.isCancelled else { return }
        await send(Frame(event: Frame.Event.end.rawValue, subscription: id))
    }

    /// Queues one frame for the connection's writer, in this actor's order, and waits until
    /// it is written; a client that does not take it within the frame timeout is dropped
    /// (the writer closes the connection, which ends ``readRequests()``).
    private func send(_ frame: Frame) async {
        await writer.send(frame.encodedLine())
    }
}
