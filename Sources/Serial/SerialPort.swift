import CSystemSupport
import Glibc
import Synchronization
import SystemIO
import SystemPackage

/// An open serial port (a real UART, a USB modem or adapter, or the slave side of a
/// pseudo-terminal), configured raw.
///
/// The port is opened `O_RDWR | O_NOCTTY | O_NONBLOCK`, so opening never waits for
/// carrier, and claimed with `TIOCEXCL` and `flock` so that no other program can open
/// it behind our back. Reads and writes take deadlines and suspend the calling task
/// (see `SystemIO`'s `IOReactor`) rather than blocking a thread. The descriptor is closed exactly
/// once — by ``close()`` or when the object is released — including on every failing
/// path of ``init(path:options:exclusive:)``.
public final class SerialPort: ModemPort {
    /// The path the port was opened by.
    public let path: String
    private let descriptor: Descriptor
    /// The settings of the last `configure`, used to restore the speed after a B0 DTR drop.
    private let lastOptions: Mutex<SerialOptions>

    /// Opens and configures a port.
    ///
    /// - Parameters:
    ///   - path: the device, e.g. `/dev/ttyUSB0`, `/dev/serial/by-id/…`, or a pty slave.
    ///   - options: line settings; applied before this returns.
    ///   - exclusive: claim the port with `TIOCEXCL` and `flock(LOCK_EX)`.
    ///   - checked: the device as ``SerialDeviceCheck/check(_:requester:)`` found it; the
    ///     opened descriptor must still be that device, with the same owner and mode.
    /// - Throws: `SerialError.system` with `ENOENT` for a missing path, `.inUse` if another
    ///   program holds the port exclusively, `.unsupportedSpeed`, `.notPermitted` when the
    ///   device changed since `checked`, or another system error.
    public init(
        path: String, options: SerialOptions = SerialOptions(), exclusive: Bool = true,
        checked: SerialDeviceCheck.Identity? = nil
    ) throws(SerialError) {
        self.path = path
        let fd: Int32
        switch Syscall.result({ Glibc.open(checked?.canonicalPath ?? path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }) {
        case .success(let opened): fd = opened
        case .failure(.resourceBusy): throw .inUse(path: path)
        case .failure(let error): throw .system(operation: "open", path: path, errno: error)
        }
        descriptor = Descriptor(fd, path: path)
        lastOptions = Mutex(options)
        do throws(SerialError) {
            if let checked {
                let opened = try SerialError.converting(FileStatus.of(descriptor: fd, path: path))
                guard opened.isSameDevice(as: checked.status) else {
                    throw .notPermitted(path: path, reason: "the device changed between the check and the open")
                }
            }
            var probe = termios()
            try check("tcgetattr", path) { tcgetattr(fd, &probe) }
            if exclusive {
                try check("ioctl(TIOCEXCL)", path) { ioctl(fd, UInt(TIOCEXCL)) }
                switch Syscall.result({ flock(fd, LOCK_EX | LOCK_NB) }) {
                case .success: break
                case .failure(.wouldBlock): throw .inUse(path: path)
                case .failure(let error): throw .system(operation: "flock", path: path, errno: error)
                }
            }
            try configure(options)
        } catch {
            descriptor.close()
            throw error
        }
    }

    deinit { close() }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { descriptor.isClosed }

    /// `path` with every link resolved (`/dev/serial/by-id/…` → `/dev/ttyUSB0`), so that two
    /// names of one device compare equal; `path` itself if it cannot be resolved.
    public static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether the device node still exists (links followed). After a hang-up this tells
    /// an unplugged device (gone) from a carrier drop with `CLOCAL` off (still there).
    public var deviceIsPresent: Bool { access(path, F_OK) == 0 }

    /// Releases the exclusive claim and closes the descriptor. Output still queued in the
    /// driver is discarded (call ``drain(deadline:)`` first), so a close never waits on a
    /// stuck flow-controlled line. With `HUPCL` set the kernel drops DTR. Closing twice
    /// does nothing.
    public func close() {
        descriptor.close { fd in
            _ = tcflush(fd, TCOFLUSH)
            _ = ioctl(fd, UInt(TIOCNXCL))
        }
    }

    /// Runs `body` with the open descriptor, under the lock that `close` takes.
    @discardableResult
    private func withDescriptor<T>(_ operation: String, _ body: (Int32) throws(SerialError) -> T) throws(SerialError) -> T {
        try descriptor.withFD(ifClosed: SerialError.closed(path:), body)
    }

    // MARK: Line settings

    /// Applies line settings, then reads them back: a speed the driver did not take is
    /// `.unsupportedSpeed`, any other setting it kept unchanged `.unsupported` (a pty, for
    /// one, is always 8 bits without parity).
    public func configure(_ options: SerialOptions) throws(SerialError) {
        try withDescriptor("configure") { fd throws(SerialError) in
            var previous = termios()
            try check("tcgetattr", path) { tcgetattr(fd, &previous) }
            var t = previous
            options.apply(to: &t)
            do throws(SerialError) {
                switch Syscall.result({ tcsetattr(fd, TCSANOW, &t) }) {
                case .success: break
                case .failure(.invalidArgument): throw .unsupported(operation: "configure \(options)", path: path)
                case .failure(let error): throw .system(operation: "tcsetattr", path: path, errno: error)
                }
                var back = termios()
                try check("tcgetattr", path) { tcgetattr(fd, &back) }
                if cfgetospeed(&back) != options.speed.speedConstant {
                    throw .unsupportedSpeed(options.speed.rawValue, path: path)
                }
                // A driver may silently keep what it cannot do (a pty forces 8 bits, no parity).
                if SerialOptions(termiosFlags: back, speed: options.speed) != options {
                    throw .unsupported(operation: "configure \(options)", path: path)
                }
            } catch {
                _ = tcsetattr(fd, TCSANOW, &previous)
                throw error
            }
        }
        lastOptions.withLock { $0 = options }
    }

    /// The settings the driver holds now.
    public func currentOptions() throws(SerialError) -> SerialOptions {
        try withDescriptor("tcgetattr") { fd throws(SerialError) in
            var t = termios()
            try check("tcgetattr", path) { tcgetattr(fd, &t) }
            let speed = BaudRate(speedConstant: cfgetospeed(&t)) ?? lastOptions.withLock { $0.speed }
            return SerialOptions(termiosFlags: t, speed: speed)
        }
    }

    // MARK: Reading and writing

    /// ``read(maxCount:deadline:)`` into `buffer` (up to its count), without allocating:
    /// the number of bytes read, 0 when the deadline passed first.
    public func read(into buffer: inout [UInt8], deadline: ContinuousClock.Instant?) async throws(SerialError) -> Int {
        while true {
            if let count = try readNow(into: &buffer) { return count }
            let readiness = await descriptor.wait(events: Int16(POLLIN), deadline: deadline)
            if readiness.cancelled {
                if isClosed { throw .closed(path: path) }
                throw .cancelled(operation: "read", path: path)
            }
            if readiness.revents == 0 { return 0 }
            if readiness.isHangUp && !readiness.isReadable {
                // A read now tells end-of-file (hang-up) from a last buffered byte.
                if let count = try readNow(into: &buffer) { return count }
                throw .hangUp(path: path)
            }
        }
    }

    /// Reads what is buffered without waiting: `nil` when nothing is there.
    public func readNow(maxCount: Int = 4096) throws(SerialError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max(1, maxCount))
        return try readNow(into: &buffer).map { Array(buffer.prefix($0)) }
    }

    /// Reads what is buffered into `buffer` without waiting: the count, `nil` when nothing
    /// is there. - Throws: `.hangUp` at end-of-file or `EIO`.
    private func readNow(into buffer: inout [UInt8]) throws(SerialError) -> Int? {
        try withDescriptor("read") { fd throws(SerialError) -> Int? in
            switch Syscall.result({ buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }) {
            case .success(0), .failure(.ioError): throw .hangUp(path: path)
            case .success(let count): return count
            case .failure(.resourceTemporarilyUnavailable): return nil
            case .failure(let error): throw .system(operation: "read", path: path, errno: error)
            }
        }
    }

    /// Writes every byte, waiting for room in the driver's buffer (flow control) until
    /// `deadline` (`nil`: no deadline).
    public func write(_ bytes: some Sequence<UInt8>, deadline: ContinuousClock.Instant?) async throws(SerialError) {
        var pending = Array(bytes)[...]
        while !pending.isEmpty {
            let written = try withDescriptor("write") { fd throws(SerialError) -> Int in
                switch Syscall.result({ pending.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }) {
                case .success(let count): return count
                case .failure(.resourceTemporarilyUnavailable): return 0
                case .failure(.ioError): throw .hangUp(path: path)
                case .failure(let error): throw .system(operation: "write", path: path, errno: error)
                }
            }
            pending = pending.dropFirst(written)
            if pending.isEmpty { return }
            if let deadline, deadline <= .now { throw .timedOut(operation: "write", path: path) }
            let readiness = await descriptor.wait(events: Int16(POLLOUT), deadline: deadline)
            if readiness.cancelled { throw isClosed ? .closed(path: path) : .cancelled(operation: "write", path: path) }
            if readiness.isHangUp && !readiness.isWritable { throw .hangUp(path: path) }
        }
    }

    /// Waits until the driver has sent everything written so far, or `deadline` passes.
    public func drain(deadline: ContinuousClock.Instant) async throws(SerialError) {
        while true {
            let queued = try withDescriptor("drain") { fd throws(SerialError) -> Int32 in
                var count: Int32 = 0
                if ioctl(fd, UInt(TIOCOUTQ), &count) != 0 { return 0 }
                return count
            }
            if queued == 0 { return }
            if deadline <= .now { throw .timedOut(operation: "drain", path: path) }
            do { try await Task.sleep(for: .milliseconds(2)) } catch { throw .cancelled(operation: "drain", path: path) }
        }
    }

    /// Which buffered data ``flush(_:)`` discards.
    public enum Queue: Sendable { case input, output, both }

    /// Discards buffered data: stale modem responses (`.input`), unsent bytes (`.output`).
    public func flush(_ queue: Queue) throws(SerialError) {
        let selector: Int32 = switch queue {
        case .input: TCIFLUSH
        case .output: TCOFLUSH
        case .both: TCIOFLUSH
        }
        try withDescriptor("tcflush") { fd throws(SerialError) in
            try check("tcflush", path) { tcflush(fd, selector) }
        }
    }

    /// Sends a break (the line held at space) for `duration`.
    public func sendBreak(duration: Duration) async throws(SerialError) {
        try withDescriptor("break") { fd throws(SerialError) in
            try check("ioctl(TIOCSBRK)", path) { ioctl(fd, UInt(TIOCSBRK)) }
        }
        try? await Task.sleep(for: duration)
        try withDescriptor("break") { fd throws(SerialError) in
            try check("ioctl(TIOCCBRK)", path) { ioctl(fd, UInt(TIOCCBRK)) }
        }
    }

    // MARK: Modem lines

    /// Reads the modem-control lines.
    /// - Throws: `.unsupported` on a device without modem lines (a pseudo-terminal).
    public func modemLines() throws(SerialError) -> ModemLines {
        try withDescriptor("TIOCMGET") { fd throws(SerialError) in
            var bits: Int32 = 0
            try lineIoctl(fd, "ioctl(TIOCMGET)") { ioctl(fd, UInt(TIOCMGET), &bits) }
            return ModemLines(rawValue: bits)
        }
    }

    /// Raises (`on`) or drops the given output lines (DTR, RTS).
    /// - Throws: `.unsupported` on a device without modem lines.
    public func setModemLines(_ lines: ModemLines, on: Bool) throws(SerialError) {
        var bits = lines.intersection(.outputs).rawValue
        try withDescriptor("TIOCMBIS") { fd throws(SerialError) in
            if on {
                try lineIoctl(fd, "ioctl(TIOCMBIS)") { ioctl(fd, UInt(TIOCMBIS), &bits) }
            } else {
                try lineIoctl(fd, "ioctl(TIOCMBIC)") { ioctl(fd, UInt(TIOCMBIC), &bits) }
            }
        }
    }

    private func lineIoctl(_ fd: Int32, _ operation: String, _ call: () -> Int32) throws(SerialError) {
        switch Syscall.result(call) {
        case .success: return
        case .failure(.inappropriateIOCTLForDevice), .failure(.invalidArgument), .failure(.notSupported):
            throw .unsupported(operation: operation, path: path)
        case .failure(let error): throw .system(operation: operation, path: path, errno: error)
        }
    }

    /// Drops DTR and leaves it low until ``raiseDTR(after:)``: the DTR line itself, or on a
    /// device without modem lines (a pseudo-terminal) speed B0.
    public func lowerDTR() throws(SerialError) -> DTRDropMethod {
        do {
            try setModemLines(.dtr, on: false)
            return .modemLine
        } catch .unsupported {
            try setSpeedZero()
            return .speedZero
        }
    }

    /// Raises DTR again after ``lowerDTR()`` (restoring the speed after B0).
    public func raiseDTR(after method: DTRDropMethod) throws(SerialError) {
        switch method {
        case .modemLine: try setModemLines(.dtr, on: true)
        case .speedZero: try configure(lastOptions.withLock { $0 })
        case .remoteControl: throw .unsupported(operation: "raise DTR by RFC 2217", path: path)
        }
    }

    private func setSpeedZero() throws(SerialError) {
        try withDescriptor("B0") { fd throws(SerialError) in
            var t = termios()
            try check("tcgetattr", path) { tcgetattr(fd, &t) }
            cfsetispeed(&t, speed_t(B0))
            cfsetospeed(&t, speed_t(B0))
            try check("tcsetattr(B0)", path) { tcsetattr(fd, TCSANOW, &t) }
        }
    }

    // MARK: Line errors

    /// The driver's line error counters (`TIOCGICOUNT`), counted since the driver loaded.
    /// - Returns: `nil` when the driver keeps none (a pseudo-terminal, most USB modems'
    ///   CDC-ACM before Linux 3.x): the counts are then unknown, not zero.
    public func errorCounters() -> LineErrorCounters? {
        try? withDescriptor("TIOCGICOUNT") { fd throws(SerialError) -> LineErrorCounters? in
            var frame: Int32 = 0, parity: Int32 = 0, overrun: Int32 = 0, bufferOverrun: Int32 = 0, breaks: Int32 = 0
            guard csupport_error_counters(fd, &frame, &parity, &overrun, &bufferOverrun, &breaks) == 0 else { return nil }
            return LineErrorCounters(
                framing: Int(frame), parity: Int(parity), overrun: Int(overrun), bufferOverrun: Int(bufferOverrun),
                breaks: Int(breaks))
        } ?? nil
    }
}

/// A serial driver's error counters (`struct serial_icounter_struct`).
public struct LineErrorCounters: Sendable, Equatable, Codable {
    /// Characters received with a framing error.
    public var framing: Int
    /// Characters received with a parity error.
    public var parity: Int
    /// Characters lost because the UART's receiver was overrun.
    public var overrun: Int
    /// Characters lost because the driver's receive buffer was full.
    public var bufferOverrun: Int
    /// Breaks received.
    public var breaks: Int

    /// Counters with the given values.
    public init(framing: Int = 0, parity: Int = 0, overrun: Int = 0, bufferOverrun: Int = 0, breaks: Int = 0) {
        self.framing = framing
        self.parity = parity
        self.overrun = overrun
        self.bufferOverrun = bufferOverrun
        self.breaks = breaks
    }

    /// The counts since `start` (a driver's counters only grow).
    public func since(_ start: LineErrorCounters) -> LineErrorCounters {
        LineErrorCounters(
            framing: framing - start.framing, parity: parity - start.parity, overrun: overrun - start.overrun,
            bufferOverrun: bufferOverrun - start.bufferOverrun, breaks: breaks - start.breaks)
    }
}
