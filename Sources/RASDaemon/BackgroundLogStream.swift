import SystemIO

/// A `TextOutputStream` for swift-log's `StreamLogHandler` that hands each log line to a
/// ``Serial/BackgroundLineWriter``: logging never blocks the reactor or the connection
/// manager, whatever happens to the daemon's standard error.
public struct BackgroundLogStream: TextOutputStream, Sendable {
    /// The writer the lines go to.
    public let writer: BackgroundLineWriter

    /// A stream writing through `writer`.
    public init(writer: BackgroundLineWriter) { self.writer = writer }

    public mutating func write(_ string: String) { writer.write(Array(string.utf8)) }
}
