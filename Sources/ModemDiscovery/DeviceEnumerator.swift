import CUdev

/// Lists the serial ports of the machine with libudev.
///
/// Every call opens its own udev context and reads the `tty` class afresh, so the
/// enumerator is a value that any task can use.
public struct DeviceEnumerator: Sendable {
    /// Creates an enumerator.
    public init() {}

    /// The serial ports worth knowing about, in natural order of their device nodes
    /// (`ttyACM0`, `ttyS0`, `ttyS1`, `ttyUSB2`, `ttyUSB10`): every `tty` device except the
    /// ones ``SerialDevice/exclusion`` leaves out (virtual consoles, ptys, 8250 ports with no UART).
    public func serialDevices() throws(DiscoveryError) -> [SerialDevice] {
        try ttyDevices().filter { $0.exclusion == nil }
    }

    /// Every device of the `tty` class that has a device node, excluded ones included.
    public func ttyDevices() throws(DiscoveryError) -> [SerialDevice] {
        let udev = try DiscoveryError.checking("udev_new") { udev_new() }
        defer { udev_unref(udev) }
        let enumerate = try DiscoveryError.checking("udev_enumerate_new") { udev_enumerate_new(udev) }
        defer { udev_enumerate_unref(enumerate) }
        var status = udev_enumerate_add_match_subsystem(enumerate, "tty")
        if status < 0 { throw .udev(operation: "udev_enumerate_add_match_subsystem", errno: -status) }
        status = udev_enumerate_scan_devices(enumerate)
        if status < 0 { throw .udev(operation: "udev_enumerate_scan_devices", errno: -status) }
        var devices: [SerialDevice] = []
        for syspath in UdevReader.names(udev_enumerate_get_list_entry(enumerate)) {
            // A device may vanish between the scan and this read (unplugged): skip it.
            guard let device = udev_device_new_from_syspath(udev, syspath) else { continue }
            defer { udev_device_unref(device) }
            if let serial = UdevReader.serialDevice(device) { devices.append(serial) }
        }
        return devices.sorted { naturalOrder($0.devnode, $1.devnode) }
    }
}

/// Why a `tty` device is not a serial port for our purposes.
public enum Exclusion: String, Sendable, Hashable, Codable {
    /// No hardware: virtual consoles (`tty0`…), `console`, `ptmx`, legacy ptys — every
    /// device under `/sys/devices/virtual`. (Unix98 ptys in `/dev/pts` are not in sysfs.)
    case virtual
    /// A serial-core port whose `type` attribute is 0 (`PORT_UNKNOWN`): the 8250 driver
    /// reserves `ttyS0`–`ttyS3` (or `nr_uarts`) whether or not a UART answered at the
    /// address, and these placeholders open but never transmit. libserialport checks the
    /// same value with `TIOCGSERIAL`; reading it from sysfs needs no open.
    case noUART
}

extension SerialDevice {
    /// Why this device is left out of ``DeviceEnumerator/serialDevices()``, if it is.
    public var exclusion: Exclusion? {
        if syspath.contains("/devices/virtual/") { return .virtual }
        if uartType == 0 { return .noUART }
        return nil
    }
}

/// Compares strings with runs of digits as numbers: `ttyUSB2` < `ttyUSB10`.
func naturalOrder(_ a: String, _ b: String) -> Bool {
    var left = Substring(a)
    var right = Substring(b)
    while let l = left.first, let r = right.first {
        if l.isASCII && l.isNumber && r.isASCII && r.isNumber {
            let leftDigits = left.prefix { $0.isASCII && $0.isNumber }
            let rightDigits = right.prefix { $0.isASCII && $0.isNumber }
            let leftValue = leftDigits.drop { $0 == "0" }
            let rightValue = rightDigits.drop { $0 == "0" }
            if leftValue.count != rightValue.count { return leftValue.count < rightValue.count }
            if leftValue != rightValue { return leftValue < rightValue }
            left = left.dropFirst(leftDigits.count)
            right = right.dropFirst(rightDigits.count)
        } else {
            if l != r { return l < r }
            left = left.dropFirst()
            right = right.dropFirst()
        }
    }
    return left.count < right.count
}
