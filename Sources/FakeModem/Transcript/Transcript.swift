import Foundation
import SystemIO
import Synchronization

/// One line of a transcript: something a modem received, sent or did.
///
/// Rendered as `<time> <modem> <dir> <payload>`:
/// `2025-01-31T12:00:00.123Z modem0 << ATDT5551234\r` — the time in ISO 8601 UTC with
/// milliseconds; `<<` bytes from the computer, `>>` bytes to the computer (escaped:
/// `\r`, `\n`, `\\`, `\xNN` for other bytes outside printable ASCII), `--` an event.
public struct TranscriptEntry: Sendable, Equatable, CustomStringConvertible {
    /// Which way the line goes.
    public enum Direction: String, Sendable {
        /// Bytes the computer sent to the modem.
        case fromComputer = "<<"
        /// Bytes the modem sent to the computer.
        case toComputer = ">>"
        /// Something that happened (`off-hook`, `dial 5551234`, `on-hook ATH`, …).
        case event = "--"
    }

    /// When it happened (wall clock, derived from the monotonic clock).
    public var date: Date
    /// The modem's name.
    public var modem: String
    /// Which way.
    public var direction: Direction
    /// The bytes (for `<<` and `>>`); the event text's UTF-8 for `--`.
    public var bytes: [UInt8]

    /// The payload as it appears in the line: escaped bytes, or the event text.
    public var payload: String {
        direction == .event ? String(decoding: bytes, as: UTF8.self) : TranscriptEntry.escape(bytes)
    }

    /// The event text, for an event.
    public var event: String? { direction == .event ? payload : nil }

    /// The full transcript line (without a newline).
    public var description: String {
        "\(TranscriptEntry.timestamp(date)) \(modem) \(direction.rawValue) \(payload)"
    }

    /// Escapes bytes as transcripts show them.
    public static func escape(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0D: text += "\\r"
            case 0x0A: text += "\\n"
            case 0x5C: text += "\\\\"
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }

    /// `2025-01-31T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}

/// Keeps the transcript of a bank of modems in memory (the newest `limit` entries) and,
/// if asked, appends every line to a file as it happens.
final class TranscriptRecorder: Sendable {
    private struct Store {
        var entries: [TranscriptEntry] = []
        /// How many entries were dropped from the front to respect the limit.
        var dropped = 0
        var closed = false
    }

    private let store = Mutex(Store())
    private let limit: Int
    private let file: FileHandle?
    private let originDate = Date()
    private let originInstant = ContinuousClock.now

    /// A recorder; `path` (created or truncated) receives every line. It must be a regular
    /// file or nothing: a FIFO, a device or a link there is refused, never opened through.
    init(path: String?, limit: Int) throws(FakeModemError) {
        self.limit = max(1, limit)
        guard let path else {
            file = nil
            return
        }
        do {
            file = FileHandle(fileDescriptor: try SafeFile.openForWriting(path), closeOnDealloc: true)
        } catch {
            throw .transcript(path: path, reason: "cannot create the file: \(error)")
        }
    }

    func record(_ modem: String, _ direction: TranscriptEntry.Direction, _ bytes: [UInt8], at instant: ContinuousClock.Instant) {
        let seconds = Double(instant - originInstant)
        let entry = TranscriptEntry(date: originDate.addingTimeInterval(seconds), modem: modem, direction: direction, bytes: bytes)
        store.withLock { store in
            store.entries.append(entry)
            if store.entries.count > limit + limit / 4 {
                let excess = store.entries.count - limit
                store.entries.removeFirst(excess)
                store.dropped += excess
            }
            // Written under the lock so that the file keeps the order of the entries.
            if let file, !store.closed { try? file.write(contentsOf: Data((entry.description + "\n").utf8)) }
        }
    }

    /// The entries kept, oldest first.
    var entries: [TranscriptEntry] { store.withLock { $0.entries } }

    /// How many entries were recorded so far (also counting those dropped for the limit).
    var count: Int { store.withLock { $0.entries.count + $0.dropped } }

    /// Entries recorded after the first `mark` ones (see ``count``).
    func entries(after mark: Int) -> [TranscriptEntry] {
        store.withLock { store in
            let skip = max(0, mark - store.dropped)
            return skip < store.entries.count ? Array(store.entries[skip...]) : []
        }
    }

    func close() {
        store.withLock { store in
            guard !store.closed else { return }
            store.closed = true
            try? file?.close()
        }
    }
}

extension Double {
    /// A duration in seconds.
    fileprivate init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = Double(seconds) + Double(attoseconds) / 1e18
    }
}
