import Logging
import RAS
import SystemIO

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

    /// A server for `manager` on `listener`.
    public convenience init(manager: ConnectionManager, listener: UnixSocketListener, logger: Logger = Logger(label: "rasmand")) {
        self.init(manager: manager, listener: listener, logger: logger, frameTimeout: .seconds(5))
    }

    /// A server whose clients are dropped when a frame is not written `frameTimeout` after it
    /// was queued (tests shorten it).
    init(manager: ConnectionManager, listener: UnixSocketListener, logger: Logger, frameTimeout: Duration) {
        self.manager = manager
        self.listener = listener
        self.logger = logger
        self.frameTimeout = frameTimeout
    }

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
                group.addTask { [manager, logger, frameTimeout] in
                    let session = ClientSession(
                        connection: connection, manager: manager, logger: logger, frameTimeout: frameTimeout)
                    await session.serve()
                }
            }
            group.cancelAll()
        }
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

    init(connection: UnixSocketConnection, manager: ConnectionManager, logger: Logger, frameTimeout: Duration) {
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
            response.status = try await manager.connectStatus(handle)
        case .statistics:
            guard let handle = request.handle else { throw missing("handle") }
            response.statistics = try await manager.statistics(handle)
        case .enumConnections:
            response.connections = try await manager.enumConnections()
        case .enumEntries:
            if let path = request.phonebookPath { try checkPhonebook(path) }
            let listing = try await manager.entryListing(phonebookPath: request.phonebookPath, requester: connection.peer)
            response.entries = listing.entries
            response.problems = listing.problems.isEmpty ? nil : listing.problems
        case .enumDevices:
            response.devices = try await manager.enumDevices()
        case .subscribe:
            guard let handle = request.handle else { throw missing("handle") }
            let stream = try await manager.notifications(for: handle)
            await send(response)
            forward(stream, as: id)
            return
        case .watch:
            let stream = try await manager.watch()
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
            response.listeners = await manager.enumListeners()
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
