import DiscoveryTestbed
import Foundation
import TestSupport
import Testing
@testable import ModemDiscovery

/// Discovery of the fixture hardware under umockdev: libudev sees the fake devices, and
/// fake modems (or a GPS, a loopback, silence) answer behind their device nodes. Each
/// test runs `discovery-test-harness` as a child process (see Support.swift).
@Suite("Discovery under umockdev", .serialized)
struct UMockdevDiscoveryTests {
    /// What answers behind each device node in the full-set scan.
    static let bindings = [
        "/dev/ttyACM0=modem:usr5637", "/dev/ttyACM1=gps", "/dev/ttyUSB0=modem:sportster",
        "/dev/ttyUSB4=modem:ec25", "/dev/ttyUSB5=modem:ec25",
    ].flatMap { ["--bind", $0] }

    func scan(_ arguments: [String], fixtures: [String] = Harness.allFixtures) async throws -> ScanReport {
        let locks = try TestSupport.temporaryDirectory("discovery-locks")
        defer { TestSupport.remove(locks) }
        let report = try await Harness.decode(
            ScanReport.self, ["scan", "--lock-dir", locks.path, "--answer-timeout-ms", "2000"] + arguments + fixtures)
        // Every lock was released.
        #expect(try FileManager.default.contentsOfDirectory(atPath: locks.path).isEmpty)
        return report
    }

    @Test("the fixture set lists its serial ports, without virtual ttys and ttyS1")
    func listing() async throws {
        let listed = try await Harness.decode([ListedDevice].self, ["list"] + Harness.allFixtures)
        let devices = listed.map(\.device)
        #expect(devices.map(\.devnode) == [
            "/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2",
            "/dev/ttyUSB3", "/dev/ttyUSB4", "/dev/ttyUSB5",
        ])
        #expect(listed.allSatisfy { $0.exclusion == nil })

        let modem = try #require(devices.first { $0.kernelName == "ttyACM0" })
        #expect(modem.driver == "cdc_acm" && modem.bus == "usb" && modem.uartType == nil)
        #expect(modem.usb == USBInfo(
            vendorID: 0x0baf, productID: 0x0303, manufacturer: "U.S.Robotics", product: "USB Modem",
            serialNumber: "0000001", interfaceNumber: 0, interfaceClass: 2, interfaceSubclass: 2, interfaceProtocol: 1))
        #expect(modem.byIDLinks == ["/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"])
        #expect(modem.byPathLinks == ["/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0"])
        #expect(modem.links.contains("/dev/modem/U.S.Robotics_USB_Modem_0000001-if00"))
        #expect(modem.tags.contains("swift-ras") && modem.hints.isTagged)
        #expect(modem.hints.isCandidate && modem.hints.portType == .modem)
        #expect(modem.properties["ID_MM_DEVICE_IGNORE"] == "1")

        let ftdi = try #require(devices.first { $0.kernelName == "ttyUSB0" })
        #expect(ftdi.driver == "ftdi_sio")
        #expect(ftdi.usb?.idString == "0403:6001" && ftdi.usb?.portNumber == 0 && ftdi.usb?.serialNumber == "AH01K7QZ")
        #expect(ftdi.hints.probeSpeed == 57600)

        let prolific = try #require(devices.first { $0.kernelName == "ttyUSB1" })
        #expect(prolific.driver == "pl2303" && prolific.usb?.serialNumber == nil)
        #expect(prolific.usb?.manufacturer == "Prolific Technology Inc.")

        let cellular = devices.filter { $0.usb?.vendorID == 0x2c7c }
        #expect(cellular.map(\.kernelName) == ["ttyUSB2", "ttyUSB3", "ttyUSB4", "ttyUSB5"])
        #expect(cellular.map { $0.usb?.interfaceNumber } == [0, 1, 2, 3])
        #expect(cellular.allSatisfy { $0.driver == "option" })
        #expect(cellular.map(\.hints.portType) == [.qcdm, .gps, .at, .modem])

        let gps = try #require(devices.first { $0.kernelName == "ttyACM1" })
        #expect(gps.usb?.declaresATCommands == true && !gps.hints.isCandidate && !gps.hints.isTagged)

        let uart = try #require(devices.first { $0.kernelName == "ttyS0" })
        #expect(uart.driver == "serial8250" && uart.bus == "platform" && uart.uartType == 4 && uart.usb == nil)
    }

    @Test("virtual ttys and the 8250 port without a UART are left out, with the reason")
    func exclusions() async throws {
        let listed = try await Harness.decode([ListedDevice].self, ["list", "--all"] + Harness.allFixtures)
        let excluded = Dictionary(uniqueKeysWithValues: listed.compactMap { entry in
            entry.exclusion.map { (entry.device.kernelName, $0) }
        })
        #expect(excluded == ["console": .virtual, "ptmx": .virtual, "tty0": .virtual, "tty1": .virtual, "ttyS1": .noUART])
        let placeholder = try #require(listed.first { $0.device.kernelName == "ttyS1" }?.device)
        #expect(placeholder.uartType == 0 && placeholder.driver == "serial8250")
    }

    @Test("the probe finds the modems, rejects the GPS and the silent adapter, and names every port")
    func scanningTheFixtureSet() async throws {
        let report = try await scan(Self.bindings)
        func port(_ node: String) throws -> DiscoveredPort { try #require(report.port(node)) }

        let usr = try port("/dev/ttyACM0")
        #expect(usr.decision == ProbeDecision(willProbe: true, reason: .ruleCandidate))
        #expect(usr.isModem && usr.probe?.identity?.model == "USR5637")
        #expect(usr.probe?.identity?.capabilities == ["+FCLASS", "+MS", "+ES", "+DS"])
        #expect(usr.name == "U.S.Robotics_USB_Modem_0000001-if00")
        #expect(report.received["/dev/ttyACM0"] == "ATQ0V1E0\rAT\rATI0\rAT+GCAP\rAT+GMI\rAT+GMM\rAT+GMR\rAT+GSN\r")

        let gps = try port("/dev/ttyACM1")
        #expect(gps.decision == ProbeDecision(willProbe: true, reason: .atCommandInterface))
        #expect(gps.probe?.status == .notModem)
        #expect(gps.probe?.detail?.contains("$GP") == true)

        let ftdi = try port("/dev/ttyUSB0")
        #expect(ftdi.isModem && ftdi.probe?.identity?.model == "Sportster 56K")
        #expect(ftdi.probe?.speed == 57600)
        #expect(ftdi.name == "FTDI_FT232R_USB_UART_AH01K7QZ-if00")

        let prolific = try port("/dev/ttyUSB1")
        #expect(prolific.probe?.status == .notModem && prolific.probe?.detail == "no answer to AT")
        #expect(prolific.name == "Prolific_Technology_Inc._USB-Serial_Controller-if00")

        for node in ["/dev/ttyUSB2", "/dev/ttyUSB3"] {
            #expect(try port(node).decision == ProbeDecision(willProbe: false, reason: .ignoredByRule))
            #expect(try port(node).probe == nil)
        }
        #expect(try port("/dev/ttyUSB4").name == "Quectel_EC25_867962041234567-if02")
        #expect(try port("/dev/ttyUSB5").name == "Quectel_EC25_867962041234567-if03")
        #expect(try port("/dev/ttyUSB5").probe?.identity?.capabilities == ["+CGSM"])

        let uart = try port("/dev/ttyS0")
        #expect(uart.decision == ProbeDecision(willProbe: false, reason: .notACandidate) && uart.probe == nil)
        #expect(uart.name == "ttyS0")

        #expect(Set(report.ports.map(\.name)).count == report.ports.count)
        #expect(report.ports.filter(\.isModem).map(\.device.kernelName) == ["ttyACM0", "ttyUSB0", "ttyUSB4", "ttyUSB5"])
        // A phonebook's Device= may give the /dev/modem link our rules make.
        #expect(report.ports.filter { $0.answers(to: "/dev/modem/U.S.Robotics_USB_Modem_0000001-if00") }.map(\.name)
            == ["U.S.Robotics_USB_Modem_0000001-if00"])
    }

    @Test("with every port asked for, the built-in UART is probed and named after its modem")
    func allPorts() async throws {
        let report = try await scan(
            ["--all-ports", "--bind", "/dev/ttyS0=modem:sportster"], fixtures: [Harness.fixture("serial8250-ports.umockdev")])
        #expect(report.ports.map(\.device.kernelName) == ["ttyS0"])
        let uart = try #require(report.ports.first)
        #expect(uart.decision == ProbeDecision(willProbe: true, reason: .allPortsRequested))
        #expect(uart.isModem)
        #expect(uart.name == "USRobotics_Sportster_56K")
    }

    @Test("ports that are locked or held open are reported in use and left untouched")
    func portsInUse() async throws {
        let report = try await scan(
            [
                "--bind", "/dev/ttyACM0=modem:usr5637", "--bind", "/dev/ttyUSB0=modem:sportster",
                "--hold-lock", "/dev/ttyACM0", "--hold-open", "/dev/ttyUSB0",
            ],
            fixtures: [Harness.fixture("usr5637-usb-modem.umockdev"), Harness.fixture("ft232r-usb-serial-adapter.umockdev")])
        let locked = try #require(report.port("/dev/ttyACM0"))
        #expect(locked.probe?.status == .inUse)
        #expect(locked.probe?.detail?.contains("locked by process 1") == true)
        #expect(report.received["/dev/ttyACM0"] == "")
        let held = try #require(report.port("/dev/ttyUSB0"))
        #expect(held.probe?.status == .inUse)
        #expect(report.received["/dev/ttyUSB0"] == "")
        // Without a probe identity the names still come from udev.
        #expect(locked.name == "U.S.Robotics_USB_Modem_0000001-if00")
    }

    @Test("the monitor reports added, changed and removed serial ports, ends on cancel and closes its socket")
    func hotPlug() async throws {
        let report = try await Harness.decode(HotplugReport.self, [
            "hotplug", Harness.fixture("usr5637-usb-modem.umockdev"), Harness.fixture("serial8250-ports.umockdev"),
            Harness.fixture("virtual-ttys.umockdev"), Harness.fixture("quectel-ec25-cellular.umockdev"),
        ])
        let serialPorts = ["ttyACM0", "ttyS0", "ttyUSB2", "ttyUSB3", "ttyUSB4", "ttyUSB5"]
        #expect(report.added.map(\.device.kernelName) == serialPorts)
        #expect(report.added.allSatisfy { $0.action == .added })
        #expect(report.changed.map(\.device.kernelName) == serialPorts)
        #expect(report.changed.allSatisfy { $0.action == .changed })
        let removed = report.removed.map(\.device.kernelName)
        #expect(report.removed.allSatisfy { $0.action == .removed })
        #expect(Set(serialPorts).isSubset(of: removed))
        #expect(Set(removed).isDisjoint(with: ["tty0", "tty1", "console", "ptmx"]))

        let plugged = try #require(report.added.first)
        #expect(plugged.device.usb?.idString == "0baf:0303")
        #expect(plugged.device.hints.isCandidate)
        #expect(plugged.device.byIDLinks == ["/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"])
        #expect(DeviceNaming.name(for: plugged.device) == "U.S.Robotics_USB_Modem_0000001-if00")
        let unplugged = try #require(report.removed.first { $0.device.kernelName == "ttyACM0" })
        #expect(unplugged.device.usb?.vendorID == 0x0baf)
        #expect(zip(report.added, report.added.dropFirst()).allSatisfy { $0.sequenceNumber < $1.sequenceNumber })

        #expect(report.iterationEndedOnCancel)
        #expect(report.socketsWhileOpen == report.socketsBefore + 1)
        #expect(report.socketsAfterClose == report.socketsBefore)
    }
}
