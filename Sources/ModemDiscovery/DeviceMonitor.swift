import CUdev
import Synchronization
import SystemIO

/// A serial port that appeared, went away or changed.
public struct DeviceEvent: Sendable, Hashable, Codable {
    /// What happened to the device.
    public enum Action: String, Sendable, Hashable, Codable {
        /// Plugged in (`add`).
        case added
        /// Unplugged (`remove`). Only what udev sent with the event is known: properties,
        /// links and the USB identity; sysfs is gone.
        case removed
        /// Its properties changed (`change`, `move`).
        case changed
    }

    /// What happened.
    public var action: Action
    /// The device, as the event described it.
    public var device: SerialDevice
    /// udev's sequence number of the event.
    public var sequenceNumber: UInt64

    /// Creates an event.
    public init(action: Action, device: SerialDevice, sequenceNumber: UInt64) {
        self.action = action
        self.device = device
        self.sequenceNumber = sequenceNumber
    }
}

/// Hot-plug events for serial ports, from a udev monitor: an `AsyncSequence` of
/// ``DeviceEvent``s.
///
/// The monitor listens on udev's netlink group (`udev_monitor_new_from_netlink(udev, "udev")`,
/// filtered to the `tty` subsystem), so events arrive after udev ran its rules, with their
/// properties and links. Without a running udev daemon (a container) no event arrives.
/// Events of devices that ``SerialDevice/exclusion`` leaves out are dropped.
///
/// The monitor starts listening when it is created, so nothing that happens afterwards is
/// missed even if iteration starts later. Iteration waits on `SystemIO`'s reactor
/// thread (see `ReadinessWaiter`) and ends — `next()` returns `nil` — when the iterating
/// task is cancelled or the monitor is closed. ``close()`` (or releasing the monitor)
/// closes the socket; no thread is left behind.
public final class DeviceMonitor: AsyncSequence, Sendable {
    public typealias Element = DeviceEvent
    public typealias Failure = Never

    private struct Handles {
        var udev: OpaquePointer?
        var monitor: OpaquePointer?
    }

    private let handles: Mutex<Handles>
    private let waiter: ReadinessWaiter

    /// Opens the monitor socket and starts receiving events.
    /// - Throws: ``DiscoveryError/udev(operation:errno:)`` if libudev cannot create it.
    public init() throws(DiscoveryError) {
        let udev = try DiscoveryError.checking("udev_new") { udev_new() }
        let monitor: OpaquePointer
        do throws(DiscoveryError) {
            monitor = try DiscoveryError.checking("udev_monitor_new_from_netlink") { udev_monitor_new_from_netlink(udev, "udev") }
        } catch {
            udev_unref(udev)
            throw error
        }
        var status = udev_monitor_filter_add_match_subsystem_devtype(monitor, "tty", nil)
        if status >= 0 { status = udev_monitor_enable_receiving(monitor) }
        if status < 0 {
            udev_monitor_unref(monitor)
            udev_unref(udev)
            throw .udev(operation: "udev_monitor_enable_receiving", errno: -status)
        }
        waiter = ReadinessWaiter(fd: udev_monitor_get_fd(monitor), label: "udev monitor")
        handles = Mutex(Handles(udev: udev, monitor: monitor))
    }

    deinit { close() }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { handles.withLock { $0.monitor == nil } }

    /// Stops listening and closes the socket; iterations in progress end. Twice is harmless.
    public func close() {
        let closing = handles.withLock { handles -> Handles in
            defer { handles = Handles() }
            return handles
        }
        waiter.invalidate()
        if let monitor = closing.monitor { udev_monitor_unref(monitor) }
        if let udev = closing.udev { udev_unref(udev) }
    }

    /// Returns the next event, waiting for one; `nil` once the task is cancelled or the
    /// monitor is closed.
    public func next() async -> DeviceEvent? {
        while !Task.isCancelled {
            switch receive() {
            case .event(let event):
                return event
            case .ignored:
                continue
            case .closed:
                return nil
            case .nothing:
                do {
                    _ = try await waiter.waitReadable(deadline: nil)
                } catch {
                    return nil
                }
            }
        }
        return nil
    }

    private enum Reception {
        case event(DeviceEvent), ignored, nothing, closed
    }

    private func receive() -> Reception {
        handles.withLock { handles -> Reception in
            guard let monitor = handles.monitor else { return .closed }
            guard let device = udev_monitor_receive_device(monitor) else { return .nothing }
            defer { udev_device_unref(device) }
            let action: DeviceEvent.Action
            switch UdevReader.string(udev_device_get_action(device)) {
            case "add": action = .added
            case "remove": action = .removed
            case "change", "move": action = .changed
            default: return .ignored
            }
            guard let serial = UdevReader.serialDevice(device) else { return .ignored }
            // A removed device has no sysfs left to tell "no UART" from a real port.
            if serial.exclusion == .virtual || (action != .removed && serial.exclusion != nil) { return .ignored }
            return .event(DeviceEvent(action: action, device: serial, sequenceNumber: udev_device_get_seqnum(device)))
        }
    }

    /// Iterates the monitor's events.
    public func makeAsyncIterator() -> Iterator { Iterator(monitor: self) }

    /// The iterator of a ``DeviceMonitor``.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        let monitor: DeviceMonitor

        /// The next event; `nil` once the task is cancelled or the monitor is closed.
        public mutating func next() async -> DeviceEvent? { await monitor.next() }
    }
}
