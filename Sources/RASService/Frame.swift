import Foundation
import RAS

/// The `rasmand` wire protocol, version 1: newline-delimited JSON over a Unix stream socket.
///
/// Every frame is one JSON object on one line (a request at most ``maximumFrameBytes`` bytes,
/// a response or event at most ``maximumServerFrameBytes``), with a
/// protocol version `v`. A client sends requests (`id` + `op` + the op's fields); the server
/// answers each with a response carrying the same `id` and `ok`, and the result fields or an
/// `error`. Subscriptions (`dial`, `subscribe`, `watch`) then send event frames tagged with
/// the request's `id` as `subscription`, until an `end` event. DESIGN.md lists every op.
public enum WireProtocol {
    /// The protocol version this build speaks.
    public static let version = 1
    /// The largest frame the server accepts from a client, newline included.
    public static let maximumFrameBytes = 64 * 1024
    /// The largest frame a client accepts from the server, newline included: the answer to
    /// `enumConnections` grows with the connections (about 300 bytes each), and a daemon
    /// serves thousands.
    public static let maximumServerFrameBytes = 16 * 1024 * 1024
}

/// Who the server is (answer to `hello`).
public struct ServerInfo: Sendable, Codable, Equatable {
    /// The protocol version.
    public var version: Int
    /// The daemon's process ID.
    public var pid: Int32
    /// The uid the daemon runs as.
    public var uid: UInt32
}

/// One frame of the protocol: request, response or event. Unused fields are omitted.
/// `package` (with the few members the fuzzers check) so that `FuzzTargets` can feed it.
package struct Frame: Codable, Sendable {
    package var v: Int = WireProtocol.version
    // Requests
    package var id: Int?
    package var op: String?
    // Responses
    package var ok: Bool?
    var error: RasError?
    // Events
    var event: String?
    var subscription: Int?
    // Fields of requests, responses and events
    var handle: RasConnectionHandle?
    var handles: [RasConnectionHandle]?
    var entryName: String?
    var phonebookPath: String?
    var dial: RasDialParameters?
    var status: RasConnStatus?
    var statistics: RasConnectionStatistics?
    var connections: [RasConnection]?
    var entries: [RasEntryName]?
    var problems: [RasPhonebookProblem]?
    var devices: [RasDevice]?
    var notification: RasDialNotification?
    var kind: RasConnectionEvent.Kind?
    var connection: RasConnection?
    var server: ServerInfo?
    var listener: RasListener?
    var listeners: [RasListener]?
    var lineEvent: RasListenerEvent?

    /// The operations a client may request.
    package enum Operation: String, CaseIterable {
        case hello, dial, hangUp, status, statistics, enumConnections, enumEntries, enumDevices, subscribe, watch, unsubscribe
        case listen, stopListening, listeners
    }

    /// The event names.
    enum Event: String {
        /// A state change of a dial or subscribed connection (`notification`).
        case state
        /// A connection event (`kind` + `connection`).
        case connection
        /// A listening line's event (`lineEvent`), on a `watch` subscription.
        case line
        /// The subscription is over (the connection was removed, or it was unsubscribed).
        case end
    }

    static func response(to id: Int?) -> Frame { Frame(id: id, ok: true) }

    static func failure(to id: Int?, _ error: RasError) -> Frame { Frame(id: id, ok: false, error: error) }

    /// The frame as one line of JSON, newline included.
    package func encodedLine() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own frame cannot fail: every field is a plain Codable value.
        let data = (try? encoder.encode(self)) ?? Data(#"{"v":1,"ok":false}"#.utf8)
        return Array(data) + [10]
    }

    /// The frame in `line` (without its newline). - Throws: the decoder's error.
    package static func decode(_ line: ArraySlice<UInt8>) throws -> Frame {
        try JSONDecoder().decode(Frame.self, from: Data(line))
    }

    /// How the server reads one request line: the request with its `id` and operation, or
    /// the failure frame it answers instead (malformed JSON, another protocol version, no
    /// `id`, an unknown `op`). Pure, so that the fuzzers check exactly what the server does.
    package static func reading(requestLine line: ArraySlice<UInt8>) -> RequestReading {
        let request: Frame
        do {
            request = try Frame.decode(line)
        } catch {
            return .refused(.failure(to: nil, RasError.invalidParameter.with(
                detail: "malformed frame: not a JSON object of the protocol")))
        }
        guard request.v == WireProtocol.version else {
            return .refused(.failure(to: request.id, RasError.invalidParameter.with(
                detail: "protocol version \(request.v) is not supported (this server speaks \(WireProtocol.version))")))
        }
        guard let id = request.id else {
            return .refused(.failure(to: nil, RasError.invalidParameter.with(detail: "request without an id")))
        }
        guard let name = request.op, let operation = Frame.Operation(rawValue: name) else {
            return .refused(.failure(to: id, RasError.invalidParameter.with(detail: "unknown operation '\(request.op ?? "")'")))
        }
        return .request(request, id: id, operation: operation)
    }
}

/// What the server makes of one request line (``Frame/reading(requestLine:)``).
package enum RequestReading {
    /// A request of the protocol, to perform.
    case request(Frame, id: Int, operation: Frame.Operation)
    /// Not a request the server performs; the frame is its answer.
    case refused(Frame)
}

/// Splits a byte stream into lines of at most `limit` bytes (by default
/// ``WireProtocol/maximumFrameBytes``); an
/// over-long line is reported once and skipped up to its newline.
package struct LineSplitter {
    /// One piece of the stream.
    package enum Item: Equatable {
        case line(ArraySlice<UInt8>)
        case oversized
    }

    private var buffer: [UInt8] = []
    private var discarding = false
    /// The longest line, newline included.
    package let limit: Int

    /// A splitter of lines up to `limit` bytes, newline included.
    package init(limit: Int = WireProtocol.maximumFrameBytes) { self.limit = limit }

    /// The lines (without newline; blank ones skipped) and over-long lines completed by `bytes`.
    package mutating func feed(_ bytes: [UInt8]) -> [Item] {
        var items: [Item] = []
        for byte in bytes {
            if byte == 10 {
                if discarding {
                    discarding = false
                } else if !buffer.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) {
                    items.append(.line(buffer[...]))
                }
                buffer.removeAll(keepingCapacity: true)
                continue
            }
            if discarding { continue }
            buffer.append(byte)
            if buffer.count >= limit {
                items.append(.oversized)
                buffer.removeAll(keepingCapacity: true)
                discarding = true
            }
        }
        return items
    }

    /// Bytes of an unfinished line (a peer that went away mid-frame left them).
    package var pendingCount: Int { buffer.count }
}
