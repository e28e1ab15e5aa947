import Glibc
import SystemIO
import SystemPackage

/// Checks that a path a client named is a serial port it could open itself, before a
/// daemon running with more rights opens it on its behalf. Opening a device can have effects
/// of its own (`/dev/watchdog` arms a reboot) and writing AT commands into a console or
/// someone else's terminal is an attack, so nothing is opened until the check passes.
public enum SerialDeviceCheck {
    /// The character-device majors of serial ports: 3 (BSD pty slaves), 4 (`ttyS*`, minors
    /// 64 and up; below are the virtual consoles), 136–143 (UNIX98 pty slaves `/dev/pts/*`),
    /// 166 (`ttyACM*`), 188 (`ttyUSB*`), 204 (low-density serial: `ttyAMA*`, `ttySAC*`…),
    /// 207 (`ttymxc*`). A device of another major passes when sysfs files it under the
    /// `tty` class (`/sys/dev/char/M:m/subsystem`), except the controlling terminal,
    /// consoles and `/dev/ptmx` (major 5), the virtual consoles and pty masters (major 2).
    public static let serialMajors = Set<UInt32>([3, 4, 166, 188, 204, 207] + Array(136...143))

    /// The checked device: where it really is and which device it is.
    public struct Identity: Sendable, Equatable {
        /// The path with every link resolved.
        public var canonicalPath: String
        /// The device's status when it was checked.
        public var status: FileStatus
    }

    /// Checks `path`: links are resolved, the target must be a character device of a serial
    /// driver (see ``serialMajors``), and with a `requester` that is not root, the requester
    /// must be able to search every folder on the way (of the path as given and of the
    /// resolved one) and have read and write permission on the device.
    /// - Throws: `.system` with `ENOENT` when it does not exist, ``SerialError/notSerialDevice(path:reason:)``,
    ///   ``SerialError/notPermitted(path:reason:)``.
    public static func check(_ path: String, requester: PeerCredentials?) throws(SerialError) -> Identity {
        let resolved = try SerialError.converting(SafeFile.resolve(path))
        let status = try SerialError.converting(FileStatus.of(resolved))
        guard status.kind == .characterDevice else {
            throw .notSerialDevice(path: path, reason: "\(resolved) is a \(status.kind)")
        }
        guard isSerial(status) else {
            throw .notSerialDevice(
                path: path, reason: "\(resolved) is character device \(status.deviceMajor):\(status.deviceMinor), not a serial port or pseudo-terminal")
        }
        if let requester, requester.uid != 0 {
            let checked = try SerialError.converting(requester.checkAccess([.read, .write], to: resolved, givenAs: path))
            guard checked.isSameFile(as: status) else {
                throw .notPermitted(path: path, reason: "the device changed while it was being checked")
            }
        }
        return Identity(canonicalPath: resolved, status: status)
    }

    /// Whether a character device is a serial port by its numbers (and sysfs).
    static func isSerial(_ status: FileStatus) -> Bool {
        let major = status.deviceMajor
        if major == 4 { return status.deviceMinor >= 64 }
        if serialMajors.contains(major) { return true }
        if major == 5 || major == 2 || major == 1 { return false }
        return sysfsClass(major: major, minor: status.deviceMinor) == "tty"
    }

    /// The last component of `/sys/dev/char/M:m/subsystem`'s target, or `nil`.
    private static func sysfsClass(major: UInt32, minor: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/sys/dev/char/\(major):\(minor)/subsystem", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let target = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
    }
}
