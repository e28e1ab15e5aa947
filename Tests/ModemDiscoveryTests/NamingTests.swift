import Testing
@testable import ModemDiscovery

@Suite("Device names")
struct NamingTests {
    @Test("udev's cleaning: blanks become one underscore, odd characters underscores")
    func sanitising() {
        #expect(DeviceNaming.sanitized("  USB   Modem ") == "USB_Modem")
        #expect(DeviceNaming.sanitized("u-blox 7 - GPS/GNSS Receiver") == "u-blox_7_-_GPS_GNSS_Receiver")
        #expect(DeviceNaming.sanitized("Prolific Technology Inc.") == "Prolific_Technology_Inc.")
        #expect(DeviceNaming.sanitized("Zoom©\tV.92") == "Zoom__V.92")
    }

    @Test("a USB port is named like its /dev/serial/by-id link, without usb-")
    func usbWithUdevProperties() {
        let device = usbDevice(properties: [
            "ID_VENDOR": "U.S.Robotics", "ID_MODEL": "USB_Modem", "ID_SERIAL_SHORT": "0000001",
        ])
        #expect(DeviceNaming.name(for: device) == "U.S.Robotics_USB_Modem_0000001-if00")
    }

    @Test("without udev properties the USB strings from sysfs give the same name")
    func usbFromSysfsStrings() {
        #expect(DeviceNaming.name(for: usbDevice(interface: 0x0a)) == "U.S.Robotics_USB_Modem_0000001-if0a")
    }

    @Test("missing USB strings fall back to the hex IDs")
    func usbWithoutStrings() {
        let device = usbDevice(manufacturer: nil, productName: nil, serial: nil)
        #expect(DeviceNaming.name(for: device) == "0baf_0303-if00")
    }

    @Test("without a USB serial number the modem's +GSN answer makes the name unique")
    func serialFromProbe() {
        let device = usbDevice(
            "ttyUSB4", driver: "option", vendor: 0x2c7c, product: 0x0125, manufacturer: "Quectel", productName: "EC25",
            serial: nil, interface: 2)
        let identity = ProbedIdentity(manufacturer: "Quectel", model: "EC25", serialNumber: "867962041234567")
        #expect(DeviceNaming.name(for: device) == "Quectel_EC25-if02")
        #expect(DeviceNaming.name(for: device, identity: identity) == "Quectel_EC25_867962041234567-if02")
    }

    @Test("a USB serial number wins over +GSN: the name does not depend on the probe")
    func usbSerialWins() {
        let identity = ProbedIdentity(serialNumber: "99")
        #expect(DeviceNaming.name(for: usbDevice(), identity: identity) == "U.S.Robotics_USB_Modem_0000001-if00")
    }

    @Test("the second port of one USB-serial interface gets -port<N>")
    func portSuffix() {
        #expect(DeviceNaming.name(for: usbDevice("ttyUSB0", port: 0)) == "U.S.Robotics_USB_Modem_0000001-if00")
        #expect(DeviceNaming.name(for: usbDevice("ttyUSB1", port: 1)) == "U.S.Robotics_USB_Modem_0000001-if00-port1")
    }

    @Test("the administrator's ID_SWIFT_RAS_NAME wins, cleaned")
    func administratorsName() {
        let device = usbDevice(properties: [RuleHints.nameKey: "office modem"])
        #expect(DeviceNaming.name(for: device) == "office_modem")
        let uart = uartDevice(properties: [RuleHints.nameKey: "line-1"])
        #expect(DeviceNaming.name(for: uart, identity: ProbedIdentity(manufacturer: "A", model: "B")) == "line-1")
    }

    @Test("a built-in port takes the modem's identity when probed, else its kernel name")
    func builtInPort() {
        let identity = ProbedIdentity(manufacturer: "USRobotics", model: "Sportster 56K", serialNumber: "")
        #expect(DeviceNaming.name(for: uartDevice()) == "ttyS0")
        #expect(DeviceNaming.name(for: uartDevice(), identity: identity) == "USRobotics_Sportster_56K")
        #expect(DeviceNaming.name(for: uartDevice(), identity: ProbedIdentity(manufacturer: "X")) == "ttyS0")
    }

    @Test("the name does not depend on where the device is plugged")
    func independentOfPlace() {
        var here = usbDevice()
        var there = usbDevice("ttyACM3")
        here.syspath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/tty/ttyACM0"
        here.links = ["/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0"]
        there.syspath = "/sys/devices/pci0000:00/0000:00:14.0/usb3/3-4.1/3-4.1:1.0/tty/ttyACM3"
        there.links = ["/dev/serial/by-path/pci-0000:00:14.0-usb-0:4.1:1.0"]
        #expect(DeviceNaming.name(for: here) == DeviceNaming.name(for: there))
    }

    @Test("names taken twice get ~2, ~3 in order, and stay unique")
    func uniqueness() {
        #expect(DeviceNaming.uniqued(["a", "b", "a", "a"]) == ["a", "b", "a~2", "a~3"])
        #expect(DeviceNaming.uniqued(["a", "a", "a~2"]) == ["a", "a~2", "a~2~2"])
    }

    @Test("a port answers to its name, its node and its links")
    func answersTo() {
        var device = usbDevice()
        device.links = ["/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"]
        let port = DiscoveredPort(
            device: device, decision: ProbeDecision(willProbe: true, reason: .ruleCandidate), probe: nil,
            name: "U.S.Robotics_USB_Modem_0000001-if00")
        #expect(port.answers(to: "U.S.Robotics_USB_Modem_0000001-if00"))
        #expect(port.answers(to: "/dev/ttyACM0"))
        #expect(port.answers(to: "/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"))
        #expect(!port.answers(to: "ttyACM0"))
    }
}
