import CSystemSupport
import Glibc
import Synchronization
import SystemIO

/// A pseudo-terminal pair: the master side is held here, the slave side is a path
/// (`/dev/pts/N`) that a program opens as if it were a serial port.
///
/// This is what the fake modem sits on. Besides reading and writing the master, it
/// observes what a modem would see on its RS-232 side: the slave's termios (a speed of
/// B0 is "DTR dropped"; `HUPCL` says whether a close drops DTR) and whether the slave is
/// open at all. Closing the master hangs the slave up — reads return end-of-file,
/// writes `EIO` — which is how a fake modem is "unplugged".
public final class PseudoTerminal: Sendable {
    /// The slave device path, e.g. `/dev/pts/7`.
    public let slavePath: String
    private let master: Descriptor

    /// What a master-side wait saw.
    public enum Activity: Sendable, Equatable {
        /// The slave wrote bytes that can be read now.
        case readable
        /// No program has the slave open (never opened yet, or closed).
        case slaveClosed
        /// The deadline passed.
        case timedOut
    }

    /// The slave's settings as seen from the master.
    public struct SlaveSettings: Sendable, Equatable {
        /// The slave's output speed; `nil` when it is B0 — "DTR dropped".
        public var speed: BaudRate?
        /// `HUPCL`: closing the slave drops DTR.
        public var hangUpOnClose: Bool
        /// `CLOCAL`.
        public var ignoresCarrier: Bool
        /// `CRTSCTS`: hardware flow control.
        public var hardwareFlowControl: Bool = false
        /// Whether the speed is B0.
        public var isHangUpSpeed: Bool { speed == nil }
    }

    /// Creates a pty pair with `posix_openpt`, `grantpt`, `unlockpt`, `ptsname_r`, and makes
    /// the slave raw (no echo, no line editing), as a serial port to a modem would be.
    public init() throws(SerialError) {
        let fd = try check("posix_openpt", "/dev/ptmx") { csupport_posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }
        var name = [CChar](repeating: 0, count: 128)
        do throws(SerialError) {
            try check("grantpt", "/dev/ptmx") { csupport_grantpt(fd) }
            try check("unlockpt", "/dev/ptmx") { csupport_unlockpt(fd) }
            // ptsname_r returns its error number instead of setting errno.
            let result = csupport_ptsname_r(fd, &name, UInt(name.count))
            if result != 0 { throw .system(operation: "ptsname_r", path: "/dev/ptmx", errno: .init(rawValue: result)) }
            slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        master = Descriptor(fd, path: slavePath)
        do throws(SerialError) {
            var t = termios()
            try check("tcgetattr", slavePath) { tcgetattr(fd, &t) }
            cfmakeraw(&t)
            try check("tcsetattr", slavePath) { tcsetattr(fd, TCSANOW, &t) }
            // Open and close the slave once: until a slave has been closed the master cannot
            // tell "never opened" from "open", so this makes "closed" the starting state.
            let slave = try check("open", slavePath) { Glibc.open(slavePath, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }
            _ = Glibc.close(slave)
        } catch {
            master.close()
            throw error
        }
    }

    deinit { close() }

    /// Whether the master has been closed.
    public var isClosed: Bool { master.isClosed }

    /// Closes the master: the slave hangs up, as a modem that was unplugged. Twice is harmless.
    public func close() { master.close() }

    private func withMaster<T>(_ body: (Int32) throws(SerialError) -> T) throws(SerialError) -> T {
        try master.withFD(ifClosed: SerialError.closed(path:), body)
    }

    /// Whether some program has the slave open (the master does not see `POLLHUP`).
    public var isSlaveOpen: Bool {
        (try? withMaster { fd in
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 0)
            return p.revents & Int16(POLLHUP) == 0
        }) ?? false
    }

    /// The slave's current termios, as seen through the master. It stays readable while
    /// the slave is closed and keeps the settings of the last program that had it open.
    public func slaveSettings() throws(SerialError) -> SlaveSettings {
        try withMaster { fd throws(SerialError) in
            var t = termios()
            try check("tcgetattr", slavePath) { tcgetattr(fd, &t) }
            let speed = cfgetospeed(&t)
            return SlaveSettings(
                speed: speed == speed_t(B0) ? nil : BaudRate(speedConstant: speed) ?? .b9600,
                hangUpOnClose: t.c_cflag & tcflag_t(HUPCL) != 0,
                ignoresCarrier: t.c_cflag & tcflag_t(CLOCAL) != 0,
                hardwareFlowControl: t.c_cflag & tcflag_t(CRTSCTS) != 0)
        }
    }

    /// Gives the slave device to `uid` (and `gid`, when given) with permission bits `mode`,
    /// so that only that user can open it (`grantpt` leaves it to this process's user,
    /// mode 0620 with group `tty`).
    public func setSlaveOwner(uid: UInt32, gid: UInt32?, mode: UInt32 = 0o600) throws(SerialError) {
        // chmod first: the slave is never readable by the tty group while it changes hands.
        try check("chmod", slavePath) { Glibc.chmod(slavePath, mode_t(mode)) }
        if uid != getuid() || gid != nil {
            try check("chown", slavePath) { Glibc.chown(slavePath, uid_t(uid), gid.map { gid_t($0) } ?? gid_t.max) }
        }
    }

    /// Reads what the slave has written into `buffer`, without waiting: the count, 0 when
    /// there is nothing or the slave is closed.
    public func readNow(into buffer: inout [UInt8]) throws(SerialError) -> Int {
        try withMaster { fd throws(SerialError) in
            switch Syscall.result({ buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }) {
            case .success(let count): return count
            // EIO: no slave is open. EAGAIN: nothing to read.
            case .failure(.ioError), .failure(.resourceTemporarilyUnavailable): return 0
            case .failure(let error): throw .system(operation: "read", path: slavePath, errno: error)
            }
        }
    }

    /// Sets the slave's speed and hardware flow control through the master (a data line
    /// starts out with its modem port's settings, so that a program sees them).
    public func setSlaveSettings(speed: BaudRate, hardwareFlowControl: Bool) throws(SerialError) {
        try withMaster { fd throws(SerialError) in
            var t = termios()
            try check("tcgetattr", slavePath) { tcgetattr(fd, &t) }
            cfsetispeed(&t, speed.speedConstant)
            cfsetospeed(&t, speed.speedConstant)
            if hardwareFlowControl { t.c_cflag |= tcflag_t(CRTSCTS) } else { t.c_cflag &= ~tcflag_t(CRTSCTS) }
            try check("tcsetattr", slavePath) { tcsetattr(fd, TCSANOW, &t) }
        }
    }

    /// Gives the slave a serial port's power-on settings (`stty -F /dev/ttyS0` after boot):
    /// 9600 baud, 8 data bits, receiver on, `HUPCL` and `CLOCAL`, raw otherwise — so a
    /// program that closes it without touching `HUPCL` drops DTR, as on a real `/dev/ttyS*`.
    /// Set through the master: the slave is not opened.
    public func setSlavePowerOnSettings() throws(SerialError) {
        try withMaster { fd throws(SerialError) in
            var t = termios()
            try check("tcgetattr", slavePath) { tcgetattr(fd, &t) }
            cfmakeraw(&t)
            t.c_cflag = tcflag_t(CS8 | CREAD | HUPCL | CLOCAL)
            cfsetispeed(&t, speed_t(B9600))
            cfsetospeed(&t, speed_t(B9600))
            try check("tcsetattr", slavePath) { tcsetattr(fd, TCSANOW, &t) }
        }
    }

    /// Reads what the slave has written, without waiting: empty when there is nothing or
    /// the slave is closed.
    public func readNow(maxCount: Int = 4096) throws(SerialError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(1, maxCount))
        let count = try readNow(into: &buffer)
        return Array(buffer.prefix(count))
    }

    /// Writes toward the slave without waiting; returns how many bytes the pty took
    /// (fewer than given when its buffer is full because the slave is not reading).
    @discardableResult
    public func writeNow(_ bytes: some Collection<UInt8>) throws(SerialError) -> Int {
        var failure: SerialError?
        let direct = bytes.withContiguousStorageIfAvailable { buffer -> Int in
            do throws(SerialError) { return try writeNow(UnsafeRawBufferPointer(buffer)) } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        if let direct { return direct }
        let copy = Array(bytes)
        let written = copy.withUnsafeBytes { buffer -> Result<Int, SerialError> in
            do throws(SerialError) { return .success(try writeNow(buffer)) } catch { return .failure(error) }
        }
        return try written.get()
    }

    private func writeNow(_ data: UnsafeRawBufferPointer) throws(SerialError) -> Int {
        try withMaster { fd throws(SerialError) in
            switch Syscall.result({ Glibc.write(fd, data.baseAddress, data.count) }) {
            case .success(let count): return count
            // EAGAIN: the pty is full. EIO: no slave is open.
            case .failure(.resourceTemporarilyUnavailable), .failure(.ioError): return 0
            case .failure(let error): throw .system(operation: "write", path: slavePath, errno: error)
            }
        }
    }

    /// Waits until the slave has written something, the slave is (or becomes) closed, or
    /// `deadline` passes.
    ///
    /// While no program has the slave open the master reports a hang-up continuously, so
    /// this answers `.slaveClosed` at once; the caller decides how often to look again.
    public func waitForActivity(deadline: ContinuousClock.Instant?) async throws(SerialError) -> Activity {
        let readiness = await master.wait(events: Int16(POLLIN), deadline: deadline)
        if readiness.cancelled {
            throw isClosed ? .closed(path: slavePath) : .cancelled(operation: "wait", path: slavePath)
        }
        if readiness.isReadable { return .readable }
        if readiness.isHangUp { return .slaveClosed }
        return .timedOut
    }

    /// Waits until the pty can take more bytes toward the slave, or `deadline`.
    /// - Returns: `false` if the deadline passed first.
    public func waitUntilWritable(deadline: ContinuousClock.Instant?) async throws(SerialError) -> Bool {
        let readiness = await master.wait(events: Int16(POLLOUT), deadline: deadline)
        if readiness.cancelled {
            throw isClosed ? .closed(path: slavePath) : .cancelled(operation: "wait", path: slavePath)
        }
        return readiness.revents != 0
    }
}
