import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP endpoint of `rasmand --metrics-listen`: `GET /metrics` (and `HEAD`) answers
/// ``DaemonMetrics/scrape()`` in the Prometheus text format; any other path is 404, any
/// other method on `/metrics` 405.
///
/// It runs on a SwiftNIO event loop of its own (one thread); the modems stay on SystemIO's
/// reactor. One request per connection (`Connection: close`); a request larger than
/// ``Limits/maxRequestBytes`` is cut off, a connection is closed after
/// ``Limits/connectionDeadline`` whatever its client does, and past
/// ``Limits/maxConnections`` at once new connections are closed at once — a slow or idle
/// client holds one connection for a bounded time and stalls nothing else.
public final class MetricsEndpoint: Sendable {
    /// Bounds on what one client may take.
    public struct Limits: Sendable {
        /// The most bytes a connection may send (request line, headers and body): 16 KiB.
        public var maxRequestBytes = 16 * 1024
        /// How long a connection may stay open: 10 s.
        public var connectionDeadline = Duration.seconds(10)
        /// How many connections may be open at once: 64.
        public var maxConnections = 64

        /// The default limits.
        public init() {}
    }

    /// The address it listens on, with the port the system picked when asked for port 0.
    public let address: MetricsAddress
    private let group: MultiThreadedEventLoopGroup
    private let serving: Task<Void, Never>

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private init(address: MetricsAddress, group: MultiThreadedEventLoopGroup, serving: Task<Void, Never>) {
        self.address = address
        self.group = group
        self.serving = serving
    }

    /// Binds `address` and serves `metrics` until ``stop()``.
    /// - Throws: ``MetricsEndpointError/addressInUse(_:)`` when another program has the port,
    ///   ``MetricsEndpointError/cannotListen(_:reason:)`` for anything else (an unknown host, an
    ///   address not of this machine, a port below 1024 without the right).
    public static func start(
        at address: MetricsAddress, metrics: DaemonMetrics, limits: Limits = Limits(), logger: Logger
    ) async throws(MetricsEndpointError) -> MetricsEndpoint {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(RequestSizeLimit(limits.maxRequestBytes))
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            try? await group.shutdownGracefully()
            throw MetricsEndpointError(error, address: address)
        }
        let bound = MetricsAddress(host: address.host, port: server.channel.localAddress?.port ?? address.port)
        let serving = Task {
            await serve(server, metrics: metrics, limits: limits, logger: logger)
        }
        return MetricsEndpoint(address: bound, group: group, serving: serving)
    }

    /// Stops listening, closes the open connections and ends the event loop's thread.
    public func stop() async {
        serving.cancel()
        await serving.value
        try? await group.shutdownGracefully()
    }

    // MARK: Serving

    private static func serve(
        _ server: NIOAsyncChannel<Connection, Never>, metrics: DaemonMetrics, limits: Limits, logger: Logger
    ) async {
        let open = OpenConnections()
        do {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        guard open.count.add(1, ordering: .relaxed).newValue <= limits.maxConnections else {
                            open.count.subtract(1, ordering: .relaxed)
                            logger.debug("metrics: too many connections; one closed unanswered")
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await serveWithDeadline(connection, metrics: metrics, deadline: limits.connectionDeadline, logger: logger)
                            open.count.subtract(1, ordering: .relaxed)
                        }
                    }
                }
            }
        } catch is CancellationError {
        } catch {
            logger.warning("metrics endpoint stopped", metadata: ["error": "\(error)"])
        }
    }

    /// Serves one connection, closing it at `deadline` if it is not done by then.
    private static func serveWithDeadline(_ connection: Connection, metrics: DaemonMetrics, deadline: Duration, logger: Logger) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await serveOne(connection, metrics: metrics, logger: logger) }
            group.addTask { try? await Task.sleep(for: deadline) }
            await group.next()
            group.cancelAll()
        }
        // Cancelled while waiting for the request: close it in any case.
        connection.channel.close(promise: nil)
    }

    /// Reads one request and answers it.
    private static func serveOne(_ connection: Connection, metrics: DaemonMetrics, logger: Logger) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let request):
                        head = request
                    case .body:
                        // A body is read and dropped (RequestSizeLimit bounds it).
                        break
                    case .end:
                        guard let head else { return }
                        let response = await response(to: head, metrics: metrics)
                        var headers = response.headers
                        headers.add(name: "Content-Length", value: "\(response.body.count)")
                        headers.add(name: "Connection", value: "close")
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers)))
                        if head.method != .HEAD, !response.body.isEmpty {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        }
                        try await outbound.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics: connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// The response to a request: the metrics for `GET`/`HEAD /metrics`, else 404 or 405.
    static func response(to head: HTTPRequestHead, metrics: DaemonMetrics) async -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        let plain = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
        guard path == "/metrics" else {
            return (.notFound, plain, Array("Not found: the metrics are at /metrics\n".utf8))
        }
        guard head.method == .GET || head.method == .HEAD else {
            var headers = plain
            headers.add(name: "Allow", value: "GET, HEAD")
            return (.methodNotAllowed, headers, Array("Method not allowed: GET or HEAD /metrics\n".utf8))
        }
        let body = await metrics.scrape()
        return (.ok, HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]), body)
    }
}

/// Why the metrics endpoint could not listen.
public enum MetricsEndpointError: Error, Sendable, CustomStringConvertible {
    /// Another program listens on the port.
    case addressInUse(MetricsAddress)
    /// Anything else: the reason as the system gave it.
    case cannotListen(MetricsAddress, reason: String)

    init(_ error: any Error, address: MetricsAddress) {
        if let error = error as? IOError {
            switch error.errnoCode {
            case EADDRINUSE:
                self = .addressInUse(address)
                return
            case EADDRNOTAVAIL:
                self = .cannotListen(address, reason: "\(address.host) is not an address of this machine")
                return
            case EACCES:
                self = .cannotListen(address, reason: "permission denied (ports below 1024 need privileges)")
                return
            default:
                break
            }
        }
        self = .cannotListen(address, reason: "\(error)")
    }

    public var description: String {
        switch self {
        case .addressInUse(let address): "\(address): the port is in use by another program"
        case .cannotListen(let address, let reason): "\(address): \(reason)"
        }
    }
}

/// The connections being served.
private final class OpenConnections: Sendable {
    let count = Atomic<Int>(0)
}

/// Closes a connection whose client has sent more than `limit` bytes: a metrics request is
/// a few hundred bytes, and nothing past the limit is read into memory.
final class RequestSizeLimit: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: Int
    private var received = 0

    init(_ limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        guard received <= limit else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
