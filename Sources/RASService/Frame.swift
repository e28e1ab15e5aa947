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
struct Frame: Codable, Sendable {
    var v: Int = WireProtocol.version
    // Requests
    var id: Int?
    var op: String?
    // Responses
    var ok: Bool?
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
    enum Operation: String, CaseIterable {
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

    func encodedLine() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own frame cannot fail: every field is a plain Codable value.
        let data = (try? encoder.encode(self)) ?? Data(#"{"v":1,"ok":false}"#.utf8)
        return Array(data) + [10]
    }

    static func decode(_ line: ArraySlice<UInt8>) throws -> Frame {
        try JSONDecoder().decode(Frame.self, from: Data(line))
    }
}

/// Splits a byte stream into lines of at most `limit` bytes (by default
/// ``WireProtocol/maximumFrameBytes``); an
/// over-long line is reported once and skipped up to its newline.
struct LineSplitter {
    enum Item: Equatable {
        case line(ArraySlice<UInt8>)
        case oversized
    }

    private var buffer: [UInt8] = []
    private var discarding = false
    /// The longest line, newline included.
    let limit: Int

    init(limit: Int = WireProtocol.maximumFrameBytes) { self.limit = limit }

    mutating func feed(_ bytes: [UInt8]) -> [Item] {
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
    var pendingCount: Int { buffer.count }
}
