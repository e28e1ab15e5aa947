/// A serial port as udev describes it: the device node, its stable links, the hardware
/// behind it and the properties that the `udev/60-swift-ras.rules` rules set.
///
/// Values are read once (from libudev, see ``DeviceEnumerator``) and carry no handle:
/// they can be stored, compared and sent over the daemon's socket as JSON.
public struct SerialDevice: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The kernel name, e.g. `ttyACM0`.
    public var kernelName: String
    /// The device node, e.g. `/dev/ttyACM0`.
    public var devnode: String
    /// The sysfs path, e.g. `/sys/devices/pci0000:00/…/tty/ttyACM0`.
    public var syspath: String
    /// Every link udev made for the node (`DEVLINKS`): `/dev/serial/by-id/…`,
    /// `/dev/serial/by-path/…`, and `/dev/modem/…` from our rules.
    public var links: [String]
    /// The kernel driver behind the port: `cdc_acm`, `ftdi_sio`, `pl2303`, `option`,
    /// `qcserial`, `serial8250`, `serial` (8250 on PNP) … — the driver of the nearest
    /// ancestor that has one, skipping the `serial-base` port/controller devices of
    /// kernels ≥ 6.5. `nil` for a device without hardware (virtual).
    public var driver: String?
    /// The bus the hardware sits on: `usb`, `pci`, `pnp`, `platform`…; `nil` when virtual.
    public var bus: String?
    /// The USB device and interface, for a port on USB.
    public var usb: USBInfo?
    /// The UART type from the serial core's sysfs attribute `type` (the same value
    /// `TIOCGSERIAL` reports): 0 is `PORT_UNKNOWN` (no UART answered at that address),
    /// 4 is a 16550A. `nil` for ports without a serial-core UART (USB, pty…).
    public var uartType: Int?
    /// All udev properties of the tty device (`ID_*`, `DEVLINKS`, our `ID_SWIFT_RAS_*`…).
    public var properties: [String: String]
    /// The udev tags of the device (e.g. `swift-ras`, `systemd`).
    public var tags: [String]

    /// Creates a description; ``DeviceEnumerator`` and ``DeviceMonitor`` make these from udev.
    public init(
        kernelName: String, devnode: String, syspath: String, links: [String] = [], driver: String? = nil,
        bus: String? = nil, usb: USBInfo? = nil, uartType: Int? = nil,
        properties: [String: String] = [:], tags: [String] = []
    ) {
        self.kernelName = kernelName
        self.devnode = devnode
        self.syspath = syspath
        self.links = links
        self.driver = driver
        self.bus = bus
        self.usb = usb
        self.uartType = uartType
        self.properties = properties
        self.tags = tags
    }

    /// The `/dev/serial/by-id/…` links (stable for one device wherever it is plugged).
    public var byIDLinks: [String] { links.filter { $0.hasPrefix("/dev/serial/by-id/") } }
    /// The `/dev/serial/by-path/…` links (stable for one socket, whatever is plugged in).
    public var byPathLinks: [String] { links.filter { $0.hasPrefix("/dev/serial/by-path/") } }
    /// What our udev rules said about this port.
    public var hints: RuleHints { RuleHints(properties: properties, tags: tags) }

    public var description: String {
        var parts = [devnode]
        if let usb { parts.append(usb.idString) }
        if let driver { parts.append(driver) }
        return parts.joined(separator: " ")
    }
}

/// The USB device and interface behind a port.
public struct USBInfo: Sendable, Hashable, Codable {
    /// `idVendor`, e.g. `0x0baf`.
    public var vendorID: UInt16
    /// `idProduct`, e.g. `0x0303`.
    public var productID: UInt16
    /// The manufacturer string descriptor, as the device reports it (`U.S.Robotics`).
    public var manufacturer: String?
    /// The product string descriptor (`USB Modem`).
    public var product: String?
    /// The serial-number string descriptor, if the device has one.
    public var serialNumber: String?
    /// `bInterfaceNumber` of the interface the port belongs to.
    public var interfaceNumber: Int?
    /// `bInterfaceClass` / `bInterfaceSubClass` / `bInterfaceProtocol` of that interface:
    /// 2/2/1 is a CDC-ACM interface that declares V.250 AT commands.
    public var interfaceClass: UInt8?
    /// `bInterfaceSubClass`.
    public var interfaceSubclass: UInt8?
    /// `bInterfaceProtocol`.
    public var interfaceProtocol: UInt8?
    /// The `port_number` of a USB-serial port (several ports on one interface), if any.
    public var portNumber: Int?

    /// Creates a USB description.
    public init(
        vendorID: UInt16, productID: UInt16, manufacturer: String? = nil, product: String? = nil,
        serialNumber: String? = nil, interfaceNumber: Int? = nil, interfaceClass: UInt8? = nil,
        interfaceSubclass: UInt8? = nil, interfaceProtocol: UInt8? = nil, portNumber: Int? = nil
    ) {
        self.vendorID = vendorID
        self.productID = productID
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
        self.interfaceNumber = interfaceNumber
        self.interfaceClass = interfaceClass
        self.interfaceSubclass = interfaceSubclass
        self.interfaceProtocol = interfaceProtocol
        self.portNumber = portNumber
    }

    /// `vvvv:pppp` in lower-case hex, as `lsusb` prints it.
    public var idString: String { hex4(vendorID) + ":" + hex4(productID) }

    /// Whether the interface is CDC-ACM with the V.250 AT command protocol (2/2/1) — the
    /// same test ModemManager's filter applies to `cdc_acm` ports.
    public var declaresATCommands: Bool {
        interfaceClass == 2 && interfaceSubclass == 2 && interfaceProtocol == 1
    }
}

/// What the `udev/60-swift-ras.rules` rules (or an administrator's own rule) set on a port.
public struct RuleHints: Sendable, Hashable, Codable {
    /// `ID_SWIFT_RAS_CANDIDATE=1`: a known modem or adapter; probe it.
    public var isCandidate: Bool
    /// `ID_SWIFT_RAS_IGNORE=1`: never open this port.
    public var isIgnored: Bool
    /// `ID_SWIFT_RAS_PORT_TYPE`: what the port of a multi-port device is for.
    public var portType: PortType?
    /// `ID_SWIFT_RAS_NAME`: the device name an administrator chose (see ``DeviceNaming``).
    public var name: String?
    /// `ID_SWIFT_RAS_PROBE_BAUD`: the speed to probe at (an RS-232 modem behind an adapter).
    public var probeSpeed: Int?
    /// The device carries the `swift-ras` udev tag.
    public var isTagged: Bool

    /// Reads the hints from udev properties and tags.
    public init(properties: [String: String], tags: [String]) {
        isCandidate = properties[RuleHints.candidateKey] == "1"
        isIgnored = properties[RuleHints.ignoreKey] == "1"
        portType = properties[RuleHints.portTypeKey].flatMap(PortType.init(rawValue:))
        name = properties[RuleHints.nameKey].flatMap { $0.isEmpty ? nil : $0 }
        probeSpeed = properties[RuleHints.probeSpeedKey].flatMap { Int($0) }
        isTagged = tags.contains(RuleHints.tag)
    }

    /// The role of one port of a multi-port device (cellular modems expose several).
    public enum PortType: String, Sendable, Hashable, Codable, CaseIterable {
        /// The port to dial on (PPP data port).
        case modem
        /// A secondary AT command port.
        case at
        /// Qualcomm diagnostics (binary; never send AT).
        case qcdm
        /// NMEA positions from a GPS function.
        case gps
    }

    /// The udev tag our rules add.
    public static let tag = "swift-ras"
    /// Property names our rules set.
    public static let candidateKey = "ID_SWIFT_RAS_CANDIDATE"
    /// See ``isIgnored``.
    public static let ignoreKey = "ID_SWIFT_RAS_IGNORE"
    /// See ``portType``.
    public static let portTypeKey = "ID_SWIFT_RAS_PORT_TYPE"
    /// See ``name``.
    public static let nameKey = "ID_SWIFT_RAS_NAME"
    /// See ``probeSpeed``.
    public static let probeSpeedKey = "ID_SWIFT_RAS_PROBE_BAUD"
}

func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
