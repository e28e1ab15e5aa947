/// A received line together with its meaning.
public struct DecodedLine: Sendable, Hashable {
    /// The line as framed.
    public var line: FramedLine
    /// What it means.
    public var response: ModemResponse

    /// Pairs a line with its meaning.
    public init(line: FramedLine, response: ModemResponse) {
        self.line = line
        self.response = response
    }
}

/// Bytes in, classified lines out: a ``LineFramer`` followed by a ``ResultParser``.
///
/// A session writes a command, calls ``expectEcho(_:)`` with it, then feeds every chunk it
/// reads and hands the responses to a ``ResponseCollector``. When ``hasPendingLine`` is
/// true and no byte arrives for a short quiet time, it calls ``flush()`` so that a V0
/// result ended by a lone CR is delivered (see ``LineFramer``).
public struct ResponseDecoder: Sendable {
    /// The framer; its settings and buffer.
    public private(set) var framer: LineFramer
    /// The parser; change ``numericMode`` when the modem's V setting changes.
    public var parser: ResultParser

    /// A decoder using `parser` and a framer with lines up to `maximumLineLength` bytes.
    public init(parser: ResultParser = ResultParser(), maximumLineLength: Int = LineFramer.defaultMaximumLineLength) {
        self.parser = parser
        framer = LineFramer(maximumLineLength: maximumLineLength)
    }

    /// Whether the modem is taken to send numeric (V0) result codes.
    public var numericMode: Bool {
        get { parser.numericMode }
        set { parser.numericMode = newValue }
    }

    /// Whether a CR-terminated line waits for the next byte or ``flush()``.
    public var hasPendingLine: Bool { framer.hasPendingLine }

    /// Announces the command line just written so that its echo is recognised.
    public mutating func expectEcho(_ command: ATCommand) {
        framer.expectEcho(command)
    }

    /// Announces the raw bytes just written so that their echo is recognised.
    public mutating func expectEcho(_ line: [UInt8]) {
        framer.expectEcho(line)
    }

    /// Consumes `bytes`; returns the lines they completed, classified.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [DecodedLine] {
        decode(framer.feed(bytes))
    }

    /// Delivers a line held back by a final CR; call after a short quiet time.
    public mutating func flush() -> [DecodedLine] {
        decode(framer.flush())
    }

    /// Delivers everything buffered, including unterminated text; call when the stream ends.
    public mutating func finish() -> [DecodedLine] {
        decode(framer.finish())
    }

    /// Discards buffered input and the echo expectation.
    public mutating func reset() {
        framer.reset()
    }

    private func decode(_ lines: [FramedLine]) -> [DecodedLine] {
        lines.map { DecodedLine(line: $0, response: parser.classify($0)) }
    }
}
