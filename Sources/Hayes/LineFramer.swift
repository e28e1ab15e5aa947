/// How a framed line ended.
public enum LineTerminator: Sendable, Hashable {
    /// CR LF (also CR CR LF): verbal results and information text.
    case crlf
    /// A CR alone: numeric (V0) results, and echoed command lines.
    case cr
    /// An LF alone.
    case lf
    /// No terminator: the text was still open when ``LineFramer/finish()`` was called.
    case none
}

/// One line received from a modem, cleaned up by ``LineFramer``.
public struct FramedLine: Sendable, Hashable, CustomStringConvertible {
    /// The line without its terminator. Only printable ASCII and TAB; never blank.
    public var text: String
    /// How the line ended.
    public var terminator: LineTerminator
    /// Whether the line was longer than the framer's limit and was cut.
    public var isTruncated: Bool
    /// Whether the line is the echo of the command line announced with
    /// ``LineFramer/expectEcho(_:)``.
    public var isEcho: Bool

    /// A line as the framer would emit it (useful for tests and replayed transcripts).
    public init(_ text: String, terminator: LineTerminator = .crlf, isTruncated: Bool = false, isEcho: Bool = false) {
        self.text = text
        self.terminator = terminator
        self.isTruncated = isTruncated
        self.isEcho = isEcho
    }

    public var description: String { text }
}

/// Splits the byte stream from a modem into lines.
///
/// Feed it every chunk read from the port; it returns the lines completed so far and keeps
/// the rest. It copes with what real modems send:
/// - CR LF, CR alone, LF alone, and CR CR LF (counted as one CR LF) in any mix; a line
///   split over many reads; several lines in one read.
/// - Bit 7 is cleared (parity, as `chat` and wvdial do); then NUL, DEL and every control
///   byte except CR, LF and TAB are dropped. Blank lines (empty or only spaces/tabs) are
///   skipped.
/// - A line longer than ``maximumLineLength`` is cut to that length and marked
///   ``FramedLine/isTruncated``; the buffer never grows beyond the limit.
/// - The echo of the command line just sent (see ``expectEcho(_:)``) is marked
///   ``FramedLine/isEcho``.
///
/// **Lone CR.** A CR that ends a chunk is ambiguous: an LF may follow (verbal line) or not
/// (a V0 numeric result such as `0\r`, which the modem ends with CR only). The line is
/// held back, ``hasPendingLine`` is true, and it is emitted as soon as the next byte shows
/// which it was. When nothing more arrives, the caller resolves it: after a short quiet
/// time (some tens of milliseconds, longer than the gap between a CR and its LF at the
/// current speed) it calls ``flush()``, which emits the held line as CR-terminated.
///
/// The framer assumes the default S3 (CR) and S4 (LF) characters.
public struct LineFramer: Sendable {
    /// The default longest line: enough for `+GMI`/`ATI` text (up to 2048 characters).
    public static let defaultMaximumLineLength = 2048

    /// The longest line kept; longer lines are cut and marked truncated.
    public let maximumLineLength: Int

    private var buffer: [UInt8] = []
    private var truncated = false
    private var pendingCR = false
    private var expectedEcho: [UInt8]?

    /// A framer keeping lines up to `maximumLineLength` bytes (at least 1).
    public init(maximumLineLength: Int = defaultMaximumLineLength) {
        self.maximumLineLength = max(1, maximumLineLength)
    }

    /// The number of bytes of the unfinished line held now; never above
    /// ``maximumLineLength``.
    public var bufferedByteCount: Int { buffer.count }

    /// Whether a line ended by a CR is held back until the next byte or ``flush()``.
    public var hasPendingLine: Bool { pendingCR && !isBlank(buffer) }

    /// Announces the command line just written, so that its echo is recognised.
    ///
    /// Call it for every command, whatever the echo setting: a modem may echo although
    /// `E0` was sent, or echo a line from before. A received line is taken as the echo when
    /// it equals `line` ignoring case, spaces, control characters and the terminator, also
    /// with non-alphanumeric garbage (such as the rest of an escape sequence) before it.
    /// The expectation ends with the first match or with the next call.
    public mutating func expectEcho(_ line: [UInt8]) {
        let key = Self.echoKey(line)
        expectedEcho = key.isEmpty ? nil : key
    }

    /// Announces the command just written; same as passing its encoded bytes.
    public mutating func expectEcho(_ command: ATCommand) {
        expectEcho(command.encoded())
    }

    /// Stops looking for an echo.
    public mutating func cancelEcho() {
        expectedEcho = nil
    }

    /// Consumes `bytes` and returns the lines they completed, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [FramedLine] {
        var lines: [FramedLine] = []
        for raw in bytes {
            let byte = raw & 0x7F
            switch byte {
            case ASCII.cr:
                pendingCR = true
            case ASCII.lf:
                emit(pendingCR ? .crlf : .lf, into: &lines)
                pendingCR = false
            case ASCII.tab, ASCII.space..<ASCII.delete:
                if pendingCR {
                    emit(.cr, into: &lines)
                    pendingCR = false
                }
                if buffer.count < maximumLineLength {
                    buffer.append(byte)
                } else {
                    truncated = true
                }
            default:
                continue
            }
        }
        return lines
    }

    /// Emits the line held back by a final CR (see the type's discussion) as
    /// CR-terminated. Call it after a short quiet time. Text not yet ended by a CR or LF
    /// stays buffered.
    public mutating func flush() -> [FramedLine] {
        var lines: [FramedLine] = []
        if pendingCR {
            emit(.cr, into: &lines)
            pendingCR = false
        }
        return lines
    }

    /// Emits everything buffered: a line held by a CR, then any unterminated text (with
    /// terminator ``LineTerminator/none``). Use it when the stream ends.
    public mutating func finish() -> [FramedLine] {
        var lines = flush()
        emit(.none, into: &lines)
        return lines
    }

    /// Drops all buffered bytes and the echo expectation, e.g. after a hang-up when old
    /// input must be discarded.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        truncated = false
        pendingCR = false
        expectedEcho = nil
    }

    private mutating func emit(_ terminator: LineTerminator, into lines: inout [FramedLine]) {
        defer {
            buffer.removeAll(keepingCapacity: true)
            truncated = false
        }
        guard !isBlank(buffer) else { return }
        var isEcho = false
        if !truncated, let expectedEcho, Self.receivedEchoKey(buffer) == expectedEcho {
            isEcho = true
            self.expectedEcho = nil
        }
        lines.append(FramedLine(ASCII.string(buffer), terminator: terminator, isTruncated: truncated, isEcho: isEcho))
    }

    private func isBlank(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy(ASCII.isBlank)
    }

    /// Upper-case, without spaces, control bytes and DEL, bit 7 cleared.
    private static func echoKey(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        bytes.compactMap { raw in
            let byte = raw & 0x7F
            return byte > ASCII.space && byte < ASCII.delete ? ASCII.uppercased(byte) : nil
        }
    }

    /// The echo key of a received line, without leading non-alphanumeric garbage.
    private static func receivedEchoKey(_ bytes: [UInt8]) -> [UInt8] {
        Array(echoKey(bytes).drop { !ASCII.isAlphanumeric($0) })
    }
}
