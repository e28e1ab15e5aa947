import Foundation
import RAS
import SystemIO

/// The RAS contract served by a `rasmand` daemon: the same ``RasService`` API as the
/// in-process ``ConnectionManager``, over the daemon's Unix socket. Connections dialed
/// through it belong to the daemon and outlive this program.
///
/// ```swift
/// let ras: any RasService = try await RASClient.connect()     // daemon
/// // let ras: any RasService = ConnectionManager()             // in-process
/// ```
///
/// A lost daemon fails every call in flight and later calls with 711
/// (``RasError/connectionManagerUnavailable``) and ends every stream. So does a daemon that
/// does not take a request within 5 s: requests go out whole, one after another, through one
/// writer, and a request cut off by that timeout ends the connection rather than have the
/// next one continue it.
public actor RASClient: RasService, RasListening {
    /// The socket path.
    public nonisolated let socketPath: String
    private let connection: UnixSocketConnection
    /// The only writer of `connection`: requests and unsubscribes are queued in call order.
    private let writer: FrameWriter
    private var nextID = 0
    private var pending: [Int: CheckedContinuation<Frame, Never>] = [:]
    private var dialStreams: [Int: AsyncStream<RasDialNotification>.Continuation] = [:]
    private var eventStreams: [Int: AsyncStream<RasConnectionEvent>.Continuation] = [:]
    private var watchStreams: [Int: AsyncStream<RasWatchEvent>.Continuation] = [:]
    private var reader: Task<Void, Never>?
    private var lost = false
    /// The error the daemon refused this connection with (an error frame for no request).
    private var refusal: RasError?

    private init(socketPath: String, connection: UnixSocketConnection, frameTimeout: Duration) {
        self.socketPath = socketPath
        self.connection = connection
        writer = FrameWriter(connection: connection, frameTimeout: frameTimeout, keepsReadingAfterHangUp: true)
    }

    deinit {
        reader?.cancel()
        writer.close()
    }

    /// Connects to the daemon at `socketPath` (default: ``SocketLocation/defaultPath()``).
    /// - Throws: 711 when nobody listens there.
    public static func connect(socketPath: String? = nil, timeout: Duration = .seconds(5)) async throws(RasError) -> RASClient {
        try await connect(socketPath: socketPath, timeout: timeout, frameTimeout: .seconds(5))
    }

    /// Connects with a `frameTimeout` for requests other than 5 s (tests shorten it).
    static func connect(socketPath: String?, timeout: Duration = .seconds(5), frameTimeout: Duration) async throws(RasError) -> RASClient {
        let path = socketPath ?? SocketLocation.defaultPath()
        let connection: UnixSocketConnection
        do {
            connection = try await UnixSocketConnection.connect(path: path, deadline: .now + timeout)
        } catch {
            throw RasError.connectionManagerUnavailable.with(detail: "no rasmand at \(path): \(error)")
        }
        let client = RASClient(socketPath: path, connection: connection, frameTimeout: frameTimeout)
        await client.startReading()
        return client
    }

    /// The daemon's identity (protocol version, pid, uid).
    public func hello() async throws(RasError) -> ServerInfo {
        let response = try await request(Frame(op: Frame.Operation.hello.rawValue))
        guard let server = response.server else { throw malformed("hello") }
        return server
    }

    /// Closes the connection to the daemon (connections it serves stay up). Streams end.
    public func close() {
        connectionLost()
        reader?.cancel()
    }

    // MARK: RasService

    public func dial(_ parameters: RasDialParameters) async throws(RasError) -> RasDialHandle {
        let id = allocateID()
        let (stream, continuation) = AsyncStream<RasDialNotification>.makeStream(bufferingPolicy: .bufferingNewest(256))
        dialStreams[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        do throws(RasError) {
            let response = try await request(Frame(op: Frame.Operation.dial.rawValue, dial: parameters), id: id)
            guard let handle = response.handle else { throw malformed("dial") }
            return RasDialHandle(handle: handle, notifications: stream)
        } catch {
            dialStreams.removeValue(forKey: id)?.finish()
            throw error
        }
    }

    public func hangUp(_ handle: RasConnectionHandle) async throws(RasError) {
        _ = try await request(Frame(op: Frame.Operation.hangUp.rawValue, handle: handle))
    }

    public func hangUp(entryName: String) async throws(RasError) -> [RasConnectionHandle] {
        try await request(Frame(op: Frame.Operation.hangUp.rawValue, entryName: entryName)).handles ?? []
    }

    public func connectStatus(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnStatus {
        let response = try await request(Frame(op: Frame.Operation.status.rawValue, handle: handle))
        guard let status = response.status else { throw malformed("status") }
        return status
    }

    public func statistics(_ handle: RasConnectionHandle) async throws(RasError) -> RasConnectionStatistics {
        let response = try await request(Frame(op: Frame.Operation.statistics.rawValue, handle: handle))
        guard let statistics = response.statistics else { throw malformed("statistics") }
        return statistics
    }

    public func enumConnections() async throws(RasError) -> [RasConnection] {
        try await request(Frame(op: Frame.Operation.enumConnections.rawValue)).connections ?? []
    }

    public func enumEntries(phonebookPath: String?) async throws(RasError) -> [RasEntryName] {
        try await entryListing(phonebookPath: phonebookPath).entries
    }

    public func entryListing(phonebookPath: String?) async throws(RasError) -> RasEntryListing {
        let response = try await request(Frame(op: Frame.Operation.enumEntries.rawValue, phonebookPath: phonebookPath))
        return RasEntryListing(entries: response.entries ?? [], problems: response.problems ?? [])
    }

    public func enumDevices() async throws(RasError) -> [RasDevice] {
        try await request(Frame(op: Frame.Operation.enumDevices.rawValue)).devices ?? []
    }

    public func notifications(for handle: RasConnectionHandle) async throws(RasError) -> AsyncStream<RasDialNotification> {
        let id = allocateID()
        let (stream, continuation) = AsyncStream<RasDialNotification>.makeStream(bufferingPolicy: .bufferingNewest(256))
        dialStreams[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        do throws(RasError) {
            _ = try await request(Frame(op: Frame.Operation.subscribe.rawValue, handle: handle), id: id)
            return stream
        } catch {
            dialStreams.removeValue(forKey: id)?.finish()
            throw error
        }
    }

    public func connectionEvents() async throws(RasError) -> AsyncStream<RasConnectionEvent> {
        try await watchStream { self.eventStreams[$0] = $1 }
    }

    /// Sends `watch` for a new stream that `register` files under the request's id; a
    /// refused request finishes and forgets it.
    private func watchStream<Event: Sendable>(
        _ register: (Int, AsyncStream<Event>.Continuation?) -> Void
    ) async throws(RasError) -> AsyncStream<Event> {
        let id = allocateID()
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        register(id, continuation)
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        do throws(RasError) {
            _ = try await request(Frame(op: Frame.Operation.watch.rawValue), id: id)
            return stream
        } catch {
            register(id, nil)
            continuation.finish()
            throw error
        }
    }

    // MARK: RasListening

    public func listen(_ parameters: RasListenParameters) async throws(RasError) -> RasListener {
        let response = try await request(Frame(
            op: Frame.Operation.listen.rawValue, entryName: parameters.entryName, phonebookPath: parameters.phonebookPath))
        guard let listener = response.listener else { throw malformed("listen") }
        return listener
    }

    public func stopListening(entryName: String) async throws(RasError) -> RasListener {
        let response = try await request(Frame(op: Frame.Operation.stopListening.rawValue, entryName: entryName))
        guard let listener = response.listener else { throw malformed("stopListening") }
        return listener
    }

    public func enumListeners() async throws(RasError) -> [RasListener] {
        try await request(Frame(op: Frame.Operation.listeners.rawValue)).listeners ?? []
    }

    public func watch() async throws(RasError) -> AsyncStream<RasWatchEvent> {
        try await watchStream { self.watchStreams[$0] = $1 }
    }

    // MARK: Plumbing

    private func allocateID() -> Int {
        nextID += 1
        return nextID
    }

    private func request(_ frame: Frame, id: Int? = nil) async throws(RasError) -> Frame {
        guard !lost else { throw refusal ?? unavailable() }
        var frame = frame
        let id = id ?? allocateID()
        frame.id = id
        let line = frame.encodedLine()
        let response = await withCheckedContinuation { (continuation: CheckedContinuation<Frame, Never>) in
            pending[id] = continuation
            // Queued on the actor, so requests go out in the order of the calls. If the
            // writer drops the connection, the reader ends and `connectionLost` answers 711.
            writer.post(line)
        }
        if response.ok == true { return response }
        throw response.error ?? malformed(frame.op ?? "request")
    }

    private func unsubscribe(_ id: Int) {
        let known = dialStreams.removeValue(forKey: id) != nil || eventStreams.removeValue(forKey: id) != nil
            || watchStreams.removeValue(forKey: id) != nil
        guard known, !lost else { return }
        var frame = Frame(op: Frame.Operation.unsubscribe.rawValue, subscription: id)
        frame.id = allocateID()
        writer.post(frame.encodedLine())
    }

    private func startReading() {
        reader = Task.detached { [weak self, connection] in
            var splitter = LineSplitter(limit: WireProtocol.maximumServerFrameBytes)
            reading: while !Task.isCancelled {
                let bytes: [UInt8]
                do { bytes = try await connection.read(deadline: nil) } catch { break }
                for item in splitter.feed(bytes) {
                    guard case .line(let line) = item else {
                        // A frame too long to keep: its request would never be answered.
                        // Fail everything with 711 rather than leave a caller waiting.
                        connection.close()
                        break reading
                    }
                    guard let frame = try? Frame.decode(line) else { continue }
                    await self?.route(frame)
                }
            }
            await self?.connectionLost()
        }
    }

    private func route(_ frame: Frame) {
        if let event = frame.event, let subscription = frame.subscription {
            switch Frame.Event(rawValue: event) {
            case .state:
                if let notification = frame.notification { dialStreams[subscription]?.yield(notification) }
            case .connection:
                if let kind = frame.kind, let connection = frame.connection {
                    let event = RasConnectionEvent(kind: kind, connection: connection)
                    eventStreams[subscription]?.yield(event)
                    watchStreams[subscription]?.yield(.connection(event))
                }
            case .line:
                if let event = frame.lineEvent { watchStreams[subscription]?.yield(.listener(event)) }
            case .end:
                dialStreams.removeValue(forKey: subscription)?.finish()
                eventStreams.removeValue(forKey: subscription)?.finish()
                watchStreams.removeValue(forKey: subscription)?.finish()
            case nil:
                break
            }
        } else if let id = frame.id, let continuation = pending.removeValue(forKey: id) {
            continuation.resume(returning: frame)
        } else if frame.id == nil, frame.ok == false, let error = frame.error {
            // An error for no request: the daemon refuses this connection (a client limit)
            // before closing it. Every request fails with it rather than with a bare 711.
            refusal = error
        }
    }

    private func connectionLost() {
        guard !lost else { return }
        lost = true
        writer.close()
        for (id, continuation) in pending { continuation.resume(returning: .failure(to: id, refusal ?? unavailable())) }
        pending.removeAll()
        for continuation in dialStreams.values { continuation.finish() }
        for continuation in eventStreams.values { continuation.finish() }
        for continuation in watchStreams.values { continuation.finish() }
        dialStreams.removeAll()
        eventStreams.removeAll()
        watchStreams.removeAll()
    }

    private func unavailable() -> RasError {
        RasError.connectionManagerUnavailable.with(detail: "the connection to rasmand at \(socketPath) was lost")
    }

    private func malformed(_ operation: String) -> RasError {
        RasError.connectionManagerUnavailable.with(detail: "rasmand sent a malformed answer to \(operation)")
    }
}

/// Where the daemon's socket is.
public enum SocketLocation {
    /// The environment variable that names the socket: `RAS_SOCKET`.
    public static let environmentVariable = "RAS_SOCKET"
    /// The system daemon's socket.
    public static let systemPath = "/run/swift-ras/rasmand.sock"

    /// `$RAS_SOCKET`, else `$XDG_RUNTIME_DIR/swift-ras/rasmand.sock` (a per-user daemon),
    /// else ``systemPath``.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment[environmentVariable], !explicit.isEmpty { return explicit }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/swift-ras/rasmand.sock" }
        return systemPath
    }
}
