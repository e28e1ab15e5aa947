import DiscoveryTestbed
import Foundation
import ModemDiscovery
import RAS
import RASService
import TestSupport
import Testing

/// rasmand's device table at work: the daemon core runs inside an umockdev testbed (see
/// DaemonHarness), and the tests use it as a user would, with `rasdial` and `RASClient`.
@Suite("rasmand's device table under umockdev", .serialized)
struct DaemonDiscoveryTests {
    /// What answers behind each node of the full fixture set (as in the scan tests).
    static let bindings = [
        "/dev/ttyACM0=modem:usr5637", "/dev/ttyACM1=gps", "/dev/ttyUSB0=modem:sportster",
        "/dev/ttyUSB4=modem:ec25", "/dev/ttyUSB5=modem:ec25",
    ]

    static let usrName = "U.S.Robotics_USB_Modem_0000001-if00"
    static let cellularDataName = "Quectel_EC25_867962041234567-if03"

    /// `rasdial --devices` under the full fixture set (also in DISCOVERY.md).
    static let expectedListing = """
        DEVICE                                                        TYPE   PATH          IDENTITY                  PROBED
        U.S.Robotics_USB_Modem_0000001-if00                           modem  /dev/ttyACM0  U.S. Robotics USR5637     yes (modem)
        u-blox_AG_-_www.u-blox.com_u-blox_7_-_GPS_GNSS_Receiver-if00  modem  /dev/ttyACM1  -                         yes (not-modem)
        ttyS0                                                         modem  /dev/ttyS0    -                         no
        FTDI_FT232R_USB_UART_AH01K7QZ-if00                            modem  /dev/ttyUSB0  USRobotics Sportster 56K  yes (modem)
        Prolific_Technology_Inc._USB-Serial_Controller-if00           modem  /dev/ttyUSB1  -                         yes (not-modem)
        Quectel_EC25-if00                                             modem  /dev/ttyUSB2  -                         no
        Quectel_EC25-if01                                             modem  /dev/ttyUSB3  -                         no
        Quectel_EC25_867962041234567-if02                             modem  /dev/ttyUSB4  Quectel EC25              yes (modem)
        Quectel_EC25_867962041234567-if03                             modem  /dev/ttyUSB5  Quectel EC25              yes (modem)

        """

    @Test("rasdial --devices lists every port of the fixture set: name, type, path, identity, probed or not")
    func listing() async throws {
        try await DaemonHarness.run(bindings: Self.bindings) { daemon in
            let text = try await daemon.rasdial(["--devices"])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout == Self.expectedListing)

            let json = try await daemon.rasdial(["--devices", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let devices = try JSONDecoder().decode([RasDevice].self, from: Data(json.stdout.utf8))
            #expect(devices.map(\.path) == [
                "/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2",
                "/dev/ttyUSB3", "/dev/ttyUSB4", "/dev/ttyUSB5",
            ])
            #expect(devices.allSatisfy { $0.deviceType == .modem })
            #expect(devices.map(\.probe) == [.modem, .notModem, .notProbed, .modem, .notModem, .notProbed, .notProbed, .modem, .modem])

            let usr = try #require(devices.first)
            #expect(usr.deviceName == Self.usrName && usr.probed)
            #expect(usr.manufacturer == "U.S. Robotics" && usr.model == "USR5637" && usr.revision == "1.2.23")
            #expect(usr.serialNumber == "0000001" && usr.capabilities == "+FCLASS, +MS, +ES, +DS")
            #expect(usr.driver == "cdc_acm" && usr.usbID == "0baf:0303")
            #expect(usr.links.contains("/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_0000001-if00"))
            #expect(usr.links.contains("/dev/modem/U.S.Robotics_USB_Modem_0000001-if00"))

            let gps = devices[1]
            #expect(gps.detail?.contains("$GP") == true && gps.manufacturer == nil)
            #expect(devices[2].detail?.contains("--probe-all-ports") == true)
            #expect(devices[5].detail?.contains("ID_SWIFT_RAS_IGNORE=1") == true)
            #expect(devices[8].deviceName == Self.cellularDataName && devices[8].capabilities == "+CGSM")

            // The same records through the library client.
            let client = try await RASClient.connect(socketPath: daemon.socket)
            #expect(try await client.enumDevices() == devices)
            await client.close()
        }
    }

    @Test("Device= gives a name, a by-id link or a name in other case (rasdial --device a name), and the dial reaches that modem; a port in a call is not probed again")
    func dialByName() async throws {
        try await DaemonHarness.run(bindings: Self.bindings) { daemon in
            let initialUSR = try await daemon.next("device", after: 0) { $0.change?.device.path == "/dev/ttyACM0" }
            let phonebook = try daemon.phonebook([
                ("USR", Self.usrName),
                ("ByLink", "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_AH01K7QZ-if00-port0"),
                ("Cellular", Self.cellularDataName.lowercased()),
            ])
            let usr = try await daemon.rasdial(["USR", "--phonebook", phonebook])
            #expect(usr.status == 0, "\(usr.stdout)\(usr.stderr)")
            #expect(usr.stdout.contains("Successfully connected to USR"))

            // Plugged in again (as udev says) while the call is up: the table inspects the
            // port, the probe finds it locked by the call and leaves it alone, and the port
            // keeps its first probe result.
            let mark = try daemon.send("uevent /dev/ttyACM0 add")
            let busy = try await daemon.next("uevent", after: mark)
            #expect(busy.change?.kind == .updated)
            #expect(busy.change?.device.port?.probe == initialUSR.change?.device.port?.probe)
            #expect(busy.change?.device.port?.probe?.status == .modem)
            // The modem got the probe once (at start), then only the dial's commands.
            #expect(busy.received?.components(separatedBy: "ATQ0V1E0\r").count == 2)
            #expect(busy.received?.contains("ATDT5551234") == true)

            // A free port is probed again.
            let freeMark = try daemon.send("uevent /dev/ttyUSB4 add")
            let free = try await daemon.next("uevent", after: freeMark)
            #expect(free.received?.components(separatedBy: "ATQ0V1E0\r").count == 3)
            #expect(free.change?.device.port?.probe?.status == .modem)

            for entry in ["ByLink", "Cellular"] {
                let dial = try await daemon.rasdial([entry, "--phonebook", phonebook])
                #expect(dial.status == 0, "\(entry): \(dial.stdout)\(dial.stderr)")
            }
            // Without an entry, by name: the EC25's other AT port.
            let byName = try await daemon.rasdial(["--device", "Quectel_EC25_867962041234567-if02", "--phone", "5550001"])
            #expect(byName.status == 0, "\(byName.stdout)\(byName.stderr)")
            let client = try await RASClient.connect(socketPath: daemon.socket)
            let connections = try await client.enumConnections()
            await client.close()
            #expect(connections.map(\.entryName) == ["USR", "ByLink", "Cellular", ".5550001"])
            #expect(connections.allSatisfy { $0.state == .connected })
            #expect(connections.first?.deviceName == Self.usrName)
            #expect(connections.last?.deviceName == "Quectel_EC25_867962041234567-if02")
            // Named by a link or in another case, a connection still shows the device's own name.
            #expect(connections[1].deviceName == "FTDI_FT232R_USB_UART_AH01K7QZ-if00", "\(connections[1])")
            #expect(connections[2].deviceName == Self.cellularDataName, "\(connections[2])")

            let hangUp = try await daemon.rasdial(["--disconnect"])
            #expect(hangUp.status == 0, "\(hangUp.stdout)\(hangUp.stderr)")
            #expect(hangUp.lines.filter { $0.hasPrefix("Disconnected") }.count == 4)
        }
    }

    @Test("a modem plugged in while the daemon runs is probed, listed and dialable without a restart")
    func hotPlugged() async throws {
        try await DaemonHarness.run(
            fixtures: [Harness.fixture("ublox7-gps-receiver.umockdev")], bindings: ["/dev/ttyACM1=gps"]
        ) { daemon in
            let phonebook = try daemon.phonebook([("USR", Self.usrName)])
            let before = try await daemon.rasdial(["--devices"])
            #expect(before.status == 0 && !before.stdout.contains(Self.usrName))
            let absent = try await daemon.rasdial(["USR", "--phonebook", phonebook])
            #expect(absent.status == 1)
            #expect(absent.stderr.contains("error 608"), "\(absent.stdout)\(absent.stderr)")

            let mark = try daemon.send("add \(Harness.fixture("usr5637-usb-modem.umockdev")) /dev/ttyACM0=modem:usr5637")
            let added = try await daemon.next("added", after: mark)
            #expect(added.nodes == ["/dev/ttyACM0"])
            let plugged = try await daemon.next("device", after: mark) { $0.change?.device.path == "/dev/ttyACM0" }
            #expect(plugged.change?.kind == .added)
            #expect(plugged.change?.device.name == Self.usrName)
            #expect(plugged.change?.device.isModem == true)

            let after = try await daemon.rasdial(["--devices"])
            #expect(after.lines.contains { $0.hasPrefix(Self.usrName) && $0.hasSuffix("yes (modem)") }, "\(after.stdout)")
            let dial = try await daemon.rasdial(["USR", "--phonebook", phonebook])
            #expect(dial.status == 0, "\(dial.stdout)\(dial.stderr)")
            let hangUp = try await daemon.rasdial(["USR", "--disconnect"])
            #expect(hangUp.status == 0, "\(hangUp.stdout)\(hangUp.stderr)")
        }
    }

    @Test("a port another program holds at start is listed in use, and as the modem it is once it is free")
    func busyAtStart() async throws {
        try await DaemonHarness.run(
            fixtures: [Harness.fixture("usr5637-usb-modem.umockdev")], bindings: ["/dev/ttyACM0=modem:usr5637"],
            extra: ["--hold-lock", "/dev/ttyACM0"]
        ) { daemon in
            let busy = try await Self.devices(daemon)
            #expect(busy.map(\.probe) == [.inUse])
            #expect(busy.first?.detail?.contains("locked by process 1") == true)
            #expect(busy.first?.deviceName == Self.usrName)

            let mark = try daemon.send("release /dev/ttyACM0")
            _ = try await daemon.next("released", after: mark)
            let free = try await Self.devices(daemon)
            #expect(free.map(\.probe) == [.modem])
            #expect(free.first?.model == "USR5637")
        }
    }

    @Test("a modem unplugged during a call ends it in Disconnected with 630 within seconds, whichever comes first: the remove event or the hang-up")
    func unpluggedDuringACall() async throws {
        try await DaemonHarness.run(bindings: Self.bindings) { daemon in
            let phonebook = try daemon.phonebook([("USR", Self.usrName), ("Cellular", Self.cellularDataName)])
            let client = try await RASClient.connect(socketPath: daemon.socket)
            var calls: [(name: String, node: String, order: String, dial: RasDialHandle)] = []
            for (name, node, order) in [("USR", "/dev/ttyACM0", ""), ("Cellular", "/dev/ttyUSB5", " --modem-first")] {
                let dial = try await client.dial(.entry(name, phonebookPath: phonebook))
                let connected = try await Self.first(dial.notifications) { $0.state == .connected || $0.state == .disconnected }
                #expect(connected?.state == .connected && connected?.error == nil, "\(name): \(String(describing: connected))")
                calls.append((name, node, order, dial))
            }

            for call in calls {
                let start = ContinuousClock.now
                let mark = try daemon.send("unplug \(call.node)\(call.order) --expect-disconnect")
                let ended = try await Self.first(call.dial.notifications) { $0.state == .disconnected }
                let seen = start.duration(to: .now)
                #expect(ended?.error?.code == 630, "\(call.name): \(String(describing: ended))")
                #expect(seen < .seconds(5), "\(call.name): Disconnected only after \(seen)")
                let unplugged = try await daemon.next("unplugged", after: mark)
                #expect(unplugged.error == 630)
                let measured = try #require(unplugged.disconnectedAfterMilliseconds)
                #expect(measured < 5000)
                print("unplug \(call.node)\(call.order): Disconnected 630 \(measured) ms after the modem went away in the daemon; \(seen.wholeMilliseconds) ms as the client saw it")
                // A failed connection stays until it is hung up; then it is gone.
                try await client.hangUp(call.dial.handle)
                let gone = await TestSupport.eventually(timeout: DaemonHarness.patience) {
                    do throws(RasError) {
                        _ = try await client.connectStatus(call.dial.handle)
                        return false
                    } catch {
                        return error == .invalidHandle
                    }
                }
                #expect(gone)
            }
            let devices = try await client.enumDevices().map(\.path)
            await client.close()
            #expect(!devices.contains("/dev/ttyACM0") && !devices.contains("/dev/ttyUSB5"))
            #expect(devices.contains("/dev/ttyUSB4"))
        }
    }

    /// `rasdial --devices --json`, decoded.
    static func devices(_ daemon: DaemonHarness) async throws -> [RasDevice] {
        let output = try await daemon.rasdial(["--devices", "--json"])
        #expect(output.status == 0, "\(output.stderr)")
        return try JSONDecoder().decode([RasDevice].self, from: Data(output.stdout.utf8))
    }

    /// The first notification satisfying `predicate`, waiting at most the harness's
    /// patience; `nil` if the stream ended or time ran out.
    static func first(
        _ stream: AsyncStream<RasDialNotification>, where predicate: @escaping @Sendable (RasDialNotification) -> Bool
    ) async throws -> RasDialNotification? {
        try await withThrowingTaskGroup(of: RasDialNotification?.self) { group in
            group.addTask {
                for await notification in stream where predicate(notification) { return notification }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: DaemonHarness.patience)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
