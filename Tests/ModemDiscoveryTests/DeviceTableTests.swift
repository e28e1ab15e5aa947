import Foundation
import Serial
import TestSupport
import Testing
import ModemDiscovery

/// The device table's configured ports, without udev (a table that is never started).
/// Discovery and hot-plug are tested under umockdev (DaemonDiscoveryTests).
@Suite("Device table: configured ports")
struct DeviceTableTests {
    @Test("configured ports are listed unprobed, named after their last path component, resolved and offered in order")
    func configuredPorts() async throws {
        let folder = try TestSupport.temporaryDirectory("device-table")
        defer { TestSupport.remove(folder) }
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let link = folder.appendingPathComponent("modem").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: pty.slavePath)
        let table = DeviceTable(configuration: DeviceTable.Configuration(configuredPaths: [link, "/dev/ttyS9", "/srv/ttyS9"]))

        #expect(await table.isDiscovering == false)
        let devices = await table.devices()
        #expect(devices.map(\.name) == ["modem", "ttyS9", "ttyS9~2"])
        #expect(devices.map(\.path) == [link, "/dev/ttyS9", "/srv/ttyS9"])
        #expect(devices.allSatisfy { $0.isConfigured && $0.port == nil && !$0.isModem })

        #expect(await table.resolve("modem") == link)
        #expect(await table.resolve("MODEM") == link)
        #expect(await table.resolve("ttyS9~2") == "/srv/ttyS9")
        #expect(await table.resolve("/dev/ttyS9") == "/dev/ttyS9")
        // Another path of the same device (the link's target) designates it too.
        #expect(await table.resolve(pty.slavePath) == link)
        #expect(await table.resolve("USR5637") == nil)
        #expect(await table.resolve("/dev/ttyS8") == nil)

        #expect(await table.modemPaths() == [link, "/dev/ttyS9", "/srv/ttyS9"])
    }

    @Test("a record answers to its name in any case, its path and its links")
    func answers() {
        let device = KnownDevice(
            name: "U.S.Robotics_USB_Modem_0000001-if00", path: "/dev/ttyACM0",
            links: ["/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"], isConfigured: false, port: nil)
        #expect(device.answers(to: "u.s.robotics_usb_modem_0000001-if00"))
        #expect(device.answers(to: "/dev/ttyACM0"))
        #expect(device.answers(to: "/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"))
        #expect(!device.answers(to: "/dev/ttyACM1") && !device.answers(to: "ttyACM0"))
    }
}
