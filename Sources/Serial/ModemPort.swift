/// A port a modem is reached through: a local serial device (``SerialPort``) or a serial
/// port on a terminal server (``NetworkPort``, RFC 2217 or raw TCP). The Hayes layer and
/// the connection manager talk to every modem through this one abstraction.
///
/// Reads and writes take deadlines and suspend the calling task on the process's one
/// `IOReactor`. Line settings and modem lines are synchronous: a local port applies them
/// with an `ioctl`; a network port sends the request in order and learns the server's
/// answer as it arrives (``currentOptions()`` and ``modemLines()`` report what the server
/// confirmed).
public protocol ModemPort: AnyObject, Sendable {
    /// How the port was named: a device path, or `rfc2217://HOST:PORT` / `tcp://HOST:PORT`.
    var path: String { get }
    /// Whether ``close()`` has been called.
    var isClosed: Bool { get }
    /// Whether the device is still there: the node exists, or the TCP connection is up.
    /// After a hang-up this tells an unplugged device or a lost server (gone) from a
    /// carrier drop (still there).
    var deviceIsPresent: Bool { get }
    /// Closes the port; closing twice does nothing.
    func close()
    /// Applies line settings: `.unsupportedSpeed` or `.unsupported` for what the device
    /// refuses (a network port checks what the server confirms, as it arrives).
    func configure(_ options: SerialOptions) throws(SerialError)
    /// The settings in effect.
    func currentOptions() throws(SerialError) -> SerialOptions
    /// Reads 1…`buffer.count` bytes into `buffer`, waiting until `deadline` (`nil`: none):
    /// the count, 0 when the deadline passed first.
    /// - Throws: `.hangUp` when the device or the server went away, `.closed`, `.cancelled`.
    func read(into buffer: inout [UInt8], deadline: ContinuousClock.Instant?) async throws(SerialError) -> Int
    /// Writes every byte, waiting for room until `deadline` (`nil`: none).
    func write(_ bytes: some Sequence<UInt8>, deadline: ContinuousClock.Instant?) async throws(SerialError)
    /// Waits until everything written has left, or throws `.timedOut` at `deadline`.
    func drain(deadline: ContinuousClock.Instant) async throws(SerialError)
    /// Discards buffered data (here and, on a terminal server, there).
    func flush(_ queue: SerialPort.Queue) throws(SerialError)
    /// Sends a break for `duration`.
    func sendBreak(duration: Duration) async throws(SerialError)
    /// The modem-control lines; `.unsupported` where the port has none (a pty, a raw TCP
    /// port, a terminal server that never reported them).
    func modemLines() throws(SerialError) -> ModemLines
    /// Whether the modem reports a carrier (DCD), or `nil` when the port cannot tell (no
    /// modem lines, or a DCD that is not wired). Every carrier decision goes by this.
    func carrierDetect() -> Bool?
    /// Raises (`on`) or drops output lines (DTR, RTS).
    func setModemLines(_ lines: ModemLines, on: Bool) throws(SerialError)
    /// Drops DTR until ``raiseDTR(after:)``, and says how.
    func lowerDTR() throws(SerialError) -> DTRDropMethod
    /// Raises DTR again after ``lowerDTR()``.
    func raiseDTR(after method: DTRDropMethod) throws(SerialError)
    /// Line error counters since the port (or driver) started counting; `nil` when unknown.
    func errorCounters() -> LineErrorCounters?
}

extension ModemPort {
    /// DCD from ``modemLines()``; `nil` where the port has no modem lines.
    public func carrierDetect() -> Bool? {
        (try? modemLines()).map { $0.contains(.dcd) }
    }

    /// Reads what is available, waiting until at least one byte arrives or `deadline` passes
    /// (`nil`: no deadline; the wait ends with data, a hang-up, a close or cancellation).
    ///
    /// - Returns: 1…`maxCount` bytes, or an empty array when the deadline passed first.
    /// - Throws: `.hangUp` when the device hung up, `.closed`, `.cancelled` if the task was cancelled.
    public func read(maxCount: Int = 4096, deadline: ContinuousClock.Instant?) async throws(SerialError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(1, maxCount))
        let count = try await read(into: &buffer, deadline: deadline)
        return Array(buffer.prefix(count))
    }

    /// Writes every byte, with no deadline.
    public func write(_ bytes: some Sequence<UInt8>) async throws(SerialError) {
        try await write(bytes, deadline: nil)
    }

    /// Discards unread input.
    public func flush() throws(SerialError) { try flush(.input) }

    /// Sends a 250 ms break.
    public func sendBreak() async throws(SerialError) { try await sendBreak(duration: .milliseconds(250)) }

    /// Drops DTR for `duration`, then raises it again: with `&D2` the modem hangs up.
    @discardableResult
    public func dropDTR(for duration: Duration) async throws(SerialError) -> DTRDropMethod {
        let method = try lowerDTR()
        do { try await Task.sleep(for: duration) } catch {}
        try raiseDTR(after: method)
        return method
    }

    /// Waits until one of the lines in `mask` changes from its current level, or `deadline`.
    ///
    /// The lines are sampled every `interval`. (`TIOCMIWAIT` would block a thread with no
    /// timeout and no way to cancel it, so it is not used.)
    /// - Returns: the lines after the change, or `nil` if the deadline passed first.
    /// - Throws: `.unsupported` on a port without modem lines, `.cancelled`.
    public func waitForModemLineChange(
        _ mask: ModemLines, deadline: ContinuousClock.Instant, interval: Duration = .milliseconds(10)
    ) async throws(SerialError) -> ModemLines? {
        let start = try modemLines().intersection(mask)
        while ContinuousClock.now < deadline {
            do { try await Task.sleep(for: interval) } catch { throw .cancelled(operation: "wait for modem lines", path: path) }
            let now = try modemLines()
            if now.intersection(mask) != start { return now }
        }
        return nil
    }
}
