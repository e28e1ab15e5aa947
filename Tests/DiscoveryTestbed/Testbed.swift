import CUMockdev
import Foundation

/// Why the testbed could not do something.
public struct TestbedError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}

/// One device of an umockdev description (a `P:` paragraph).
public struct FixtureDevice: Sendable, Hashable {
    /// The sysfs path in the testbed, `/sys/devices/…`.
    public var syspath: String
    /// `E: SUBSYSTEM=…`.
    public var subsystem: String?
    /// The device node (`/dev/ttyACM0`) from `E: DEVNAME=…`, if any.
    public var devnode: String?

    /// Reads the devices of an umockdev-record description, in file order.
    public static func parse(_ text: String) -> [FixtureDevice] {
        var devices: [FixtureDevice] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("P: ") {
                devices.append(FixtureDevice(syspath: "/sys" + line.dropFirst(3), subsystem: nil, devnode: nil))
            } else if line.hasPrefix("E: SUBSYSTEM="), !devices.isEmpty {
                devices[devices.count - 1].subsystem = String(line.dropFirst("E: SUBSYSTEM=".count))
            } else if line.hasPrefix("E: DEVNAME="), !devices.isEmpty {
                let name = line.dropFirst("E: DEVNAME=".count)
                devices[devices.count - 1].devnode = name.hasPrefix("/") ? String(name) : "/dev/" + name
            }
        }
        return devices
    }
}

/// An umockdev testbed in this process: a fake `/sys` and `/dev` that libudev (and every
/// `open` of a `/dev` node) sees instead of the real ones.
///
/// The process must run with `LD_PRELOAD=libumockdev-preload.so.0` from its start (see
/// ``Preload``). Devices come from umockdev-record descriptions (`Fixtures/umockdev`);
/// each `tty` device node is a pty made by umockdev, which ``bind(devnode:to:)`` can point
/// at another pty — a fake modem's — so that opening `/dev/ttyACM0` reaches it.
/// Releasing the testbed removes its directory.
@MainActor
public final class Testbed {
    /// The testbed's root directory (`$UMOCKDEV_DIR`).
    public let rootDirectory: String
    private let handle: OpaquePointer
    /// The devices added so far, in order.
    public private(set) var devices: [FixtureDevice] = []

    /// Creates an empty testbed.
    /// - Throws: if the process does not run under the umockdev preload library.
    public init() throws(TestbedError) {
        guard Preload.isActive else {
            throw TestbedError("not running under \(Preload.library); start the process with LD_PRELOAD set")
        }
        guard let handle = umockdev_testbed_new() else { throw TestbedError("umockdev_testbed_new failed") }
        self.handle = handle
        if let root = umockdev_testbed_get_root_dir(handle) {
            rootDirectory = String(cString: root)
            g_free(root)
        } else {
            rootDirectory = ProcessInfo.processInfo.environment["UMOCKDEV_DIR"] ?? ""
        }
    }

    isolated deinit { g_object_unref(UnsafeMutableRawPointer(handle)) }

    /// Adds the devices of a description file; returns them.
    @discardableResult
    public func add(file path: String) throws(TestbedError) -> [FixtureDevice] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TestbedError("cannot read \(path): \(error.localizedDescription)")
        }
        return try add(description: text, source: path)
    }

    /// Adds the devices of a description; returns them.
    @discardableResult
    public func add(description text: String, source: String = "description") throws(TestbedError) -> [FixtureDevice] {
        var error: UnsafeMutablePointer<GError>?
        if umockdev_testbed_add_from_string(handle, text, &error) == 0 {
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            if let error { g_error_free(error) }
            throw TestbedError("umockdev cannot load \(source): \(message)")
        }
        let added = FixtureDevice.parse(text)
        devices += added
        return added
    }

    /// Sends a uevent (`add`, `change`, `remove`) for a device to every udev monitor of
    /// the process. For `remove`, send it before ``remove(syspath:)``: umockdev reads the
    /// device's properties from its sysfs directory.
    public func uevent(_ syspath: String, action: String) {
        umockdev_testbed_uevent(handle, syspath, action)
    }

    /// Removes a device (its sysfs directory) from the testbed.
    public func remove(syspath: String) {
        umockdev_testbed_remove_device(handle, syspath)
        devices.removeAll { $0.syspath == syspath }
    }

    /// Points the fake device node `devnode` (e.g. `/dev/ttyACM0`) at `target`, the slave
    /// of a pseudo-terminal whose master a fake modem serves. umockdev made the node a
    /// link to its own pty; this replaces the link.
    public func bind(devnode: String, to target: String) throws(TestbedError) {
        let node = rootDirectory + devnode
        do {
            try FileManager.default.removeItem(atPath: node)
            try FileManager.default.createSymbolicLink(atPath: node, withDestinationPath: target)
        } catch {
            throw TestbedError("cannot bind \(devnode) to \(target): \(error.localizedDescription)")
        }
    }
}
