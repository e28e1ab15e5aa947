import CUdev

/// Turns libudev objects into plain values. Everything here runs while the caller holds
/// the udev context, so no pointer escapes.
enum UdevReader {
    /// Reads a tty device; `nil` if it has no device node.
    static func serialDevice(_ device: OpaquePointer) -> SerialDevice? {
        guard let sysname = string(udev_device_get_sysname(device)),
              let syspath = string(udev_device_get_syspath(device)) else { return nil }
        let properties = propertyMap(udev_device_get_properties_list_entry(device))
        guard let devnode = string(udev_device_get_devnode(device)) ?? properties["DEVNAME"].map(absoluteDevnode) else {
            return nil
        }
        var links = names(udev_device_get_devlinks_list_entry(device))
        if links.isEmpty, let devlinks = properties["DEVLINKS"] {
            links = devlinks.split(separator: " ").map(String.init)
        }
        var tags = names(udev_device_get_tags_list_entry(device)).filter { !$0.isEmpty }
        if tags.isEmpty, let list = properties["CURRENT_TAGS"] ?? properties["TAGS"] {
            tags = list.split(separator: ":").map(String.init)
        }
        let hardware = hardwareParent(of: device)
        let usb = usbInfo(of: device, properties: properties)
        // On USB the interface's driver names the hardware (`option`, not the usb-serial
        // port driver `option1`), as udev's ID_USB_DRIVER does.
        let interfaceDriver = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_interface")
            .flatMap { string(udev_device_get_driver($0)) }
        return SerialDevice(
            kernelName: sysname,
            devnode: devnode,
            syspath: syspath,
            links: unique(links),
            driver: interfaceDriver ?? hardware.driver ?? properties["ID_USB_DRIVER"],
            bus: usb != nil ? "usb" : (hardware.subsystem ?? properties["ID_BUS"]),
            usb: usb,
            uartType: sysattr(device, "type").flatMap { Int($0) },
            properties: properties,
            tags: unique(tags))
    }

    /// The driver and subsystem of the nearest ancestor that has a driver, skipping the
    /// `serial-base` port and controller devices that kernels ≥ 6.5 put between a UART
    /// and its tty (their drivers are called `port` and `ctrl`).
    private static func hardwareParent(of device: OpaquePointer) -> (driver: String?, subsystem: String?) {
        var current = udev_device_get_parent(device)
        var subsystem: String?
        while let parent = current {
            let parentSubsystem = string(udev_device_get_subsystem(parent))
            if parentSubsystem != "serial-base" {
                if subsystem == nil { subsystem = parentSubsystem }
                if let driver = string(udev_device_get_driver(parent)) { return (driver, subsystem) }
            }
            current = udev_device_get_parent(parent)
        }
        return (nil, subsystem)
    }

    private static func usbInfo(of device: OpaquePointer, properties: [String: String]) -> USBInfo? {
        let usbDevice = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_device")
        let interface = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_interface")
        let serialPort = udev_device_get_parent_with_subsystem_devtype(device, "usb-serial", nil)
        if let usbDevice,
           let vendor = sysattr(usbDevice, "idVendor").flatMap({ UInt16($0, radix: 16) }),
           let product = sysattr(usbDevice, "idProduct").flatMap({ UInt16($0, radix: 16) }) {
            return USBInfo(
                vendorID: vendor, productID: product,
                manufacturer: sysattr(usbDevice, "manufacturer"),
                product: sysattr(usbDevice, "product"),
                serialNumber: sysattr(usbDevice, "serial"),
                interfaceNumber: interface.flatMap { sysattr($0, "bInterfaceNumber") }.flatMap { Int($0, radix: 16) },
                interfaceClass: interface.flatMap { sysattr($0, "bInterfaceClass") }.flatMap { UInt8($0, radix: 16) },
                interfaceSubclass: interface.flatMap { sysattr($0, "bInterfaceSubClass") }.flatMap { UInt8($0, radix: 16) },
                interfaceProtocol: interface.flatMap { sysattr($0, "bInterfaceProtocol") }.flatMap { UInt8($0, radix: 16) },
                portNumber: serialPort.flatMap { sysattr($0, "port_number") }.flatMap { Int($0) })
        }
        // No sysfs (a device already removed): what udev recorded in its properties.
        guard properties["ID_BUS"] == "usb",
              let vendor = properties["ID_VENDOR_ID"].flatMap({ UInt16($0, radix: 16) }),
              let product = properties["ID_MODEL_ID"].flatMap({ UInt16($0, radix: 16) }) else { return nil }
        return USBInfo(
            vendorID: vendor, productID: product,
            manufacturer: properties["ID_VENDOR_ENC"].map(decodeUdevEscapes),
            product: properties["ID_MODEL_ENC"].map(decodeUdevEscapes),
            serialNumber: properties["ID_SERIAL_SHORT"],
            interfaceNumber: properties["ID_USB_INTERFACE_NUM"].flatMap { Int($0, radix: 16) })
    }

    // MARK: Helpers

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    /// A sysfs attribute, trimmed; `nil` if absent or empty.
    static func sysattr(_ device: OpaquePointer, _ name: String) -> String? {
        guard let value = string(udev_device_get_sysattr_value(device, name)) else { return nil }
        let trimmed = value.trimmingASCIIWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    static func names(_ first: OpaquePointer?) -> [String] {
        var result: [String] = []
        var entry = first
        while let current = entry {
            if let name = string(udev_list_entry_get_name(current)) { result.append(name) }
            entry = udev_list_entry_get_next(current)
        }
        return result
    }

    static func propertyMap(_ first: OpaquePointer?) -> [String: String] {
        var result: [String: String] = [:]
        var entry = first
        while let current = entry {
            if let name = string(udev_list_entry_get_name(current)) {
                result[name] = string(udev_list_entry_get_value(current)) ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        return result
    }

    private static func absoluteDevnode(_ name: String) -> String {
        name.hasPrefix("/") ? name : "/dev/" + name
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

/// Decodes udev's `\xNN` escapes (`ID_MODEL_ENC=USB\x20Modem` → `USB Modem`).
func decodeUdevEscapes(_ text: String) -> String {
    var bytes: [UInt8] = []
    let source = Array(text.utf8)
    var index = 0
    while index < source.count {
        if source[index] == UInt8(ascii: "\\"), index + 3 < source.count, source[index + 1] == UInt8(ascii: "x"),
           let value = UInt8(String(decoding: source[(index + 2)...(index + 3)], as: UTF8.self), radix: 16) {
            bytes.append(value)
            index += 4
        } else {
            bytes.append(source[index])
            index += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
