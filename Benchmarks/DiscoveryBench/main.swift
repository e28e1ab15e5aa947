// discovery-bench: how long modem discovery takes under umockdev, and what a listing of
// the fixture set looks like.
//
//   swift run --scratch-path .build-discovery discovery-bench [--runs N] [--counts 1,8,32]
//
// For each count N it builds a testbed of N USB modems (USR5637 descriptions on
// cdc_acm, ttyACM0…), puts a fake modem behind each, and times ModemScanner.scan() —
// enumeration, the AT probe of all N at once, naming — with 100 ms between commands (the
// V.250 pacing that was the default until 2026-12-05), then with the default settings (1 s
// answer deadline, no pause between commands), which leaves the cost of the machinery. Enumeration alone is timed too. Then it
// prints the listing of Fixtures/umockdev with fake modems, a GPS and silence behind the
// ports, as the tests bind them. It relaunches itself under umockdev's preload library.

import DiscoveryTestbed
import Foundation
import ModemDiscovery

struct Options {
    var runs = 5
    var counts = [1, 8, 32]
    var fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/umockdev").path

    init(_ arguments: [String]) throws(TestbedError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--runs":
                guard let value = rest.popFirst().flatMap({ Int($0) }), value > 0 else { throw TestbedError("--runs takes a positive number") }
                runs = value
            case "--counts":
                let values = (rest.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
                guard !values.isEmpty, values.allSatisfy({ $0 > 0 }) else { throw TestbedError("--counts takes e.g. 1,8,32") }
                counts = values
            case "--fixtures":
                guard let value = rest.popFirst() else { throw TestbedError("--fixtures takes a folder") }
                fixtures = value
            default:
                throw TestbedError("unknown argument \(argument); use --runs N, --counts 1,8,32, --fixtures DIR")
            }
        }
    }
}

/// The umockdev description of USB modem number `index` (0-based): a USR5637 on its own
/// USB port, with the properties our udev rules set.
func modemDescription(_ index: Int) -> String {
    let bus = 1 + index / 8
    let usbPath = "\(bus)-\(index % 8 + 1)"
    let device = "/devices/pci0000:00/0000:00:14.0/usb\(bus)/\(usbPath)"
    let serial = String(format: "%07d", index + 1)
    return """
        P: \(device)/\(usbPath):1.0/tty/ttyACM\(index)
        N: ttyACM\(index)
        E: DEVNAME=/dev/ttyACM\(index)
        E: MAJOR=166
        E: MINOR=\(index)
        E: SUBSYSTEM=tty
        E: ID_BUS=usb
        E: ID_VENDOR_ID=0baf
        E: ID_MODEL_ID=0303
        E: ID_VENDOR=U.S.Robotics
        E: ID_MODEL=USB_Modem
        E: ID_SERIAL=U.S.Robotics_USB_Modem_\(serial)
        E: ID_SERIAL_SHORT=\(serial)
        E: ID_USB_INTERFACE_NUM=00
        E: ID_USB_DRIVER=cdc_acm
        E: ID_SWIFT_RAS_CANDIDATE=1
        E: ID_MM_DEVICE_IGNORE=1
        E: DEVLINKS=/dev/serial/by-id/usb-U.S.Robotics_USB_Modem_\(serial)-if00
        E: TAGS=:swift-ras:
        A: dev=166:\(index)\\n

        P: \(device)/\(usbPath):1.0
        E: DEVTYPE=usb_interface
        E: DRIVER=cdc_acm
        E: INTERFACE=2/2/1
        E: SUBSYSTEM=usb
        L: driver=../../../../../../bus/usb/drivers/cdc_acm
        A: bInterfaceClass=02\\n
        A: bInterfaceNumber=00\\n
        A: bInterfaceProtocol=01\\n
        A: bInterfaceSubClass=02\\n

        P: \(device)
        E: DEVTYPE=usb_device
        E: DRIVER=usb
        E: SUBSYSTEM=usb
        L: driver=../../../../../bus/usb/drivers/usb
        A: idProduct=0303\\n
        A: idVendor=0baf\\n
        A: manufacturer=U.S.Robotics\\n
        A: product=USB Modem\\n
        A: serial=\(serial)\\n


        """
}

struct Sample {
    var enumeration: Duration
    var scan: Duration
    var modems: Int
}

@MainActor
func measure(count: Int, gap: Duration, lockDirectory: String) async throws -> Sample {
    let testbed = try Testbed()
    for index in 0..<count {
        try testbed.add(description: modemDescription(index), source: "modem \(index)")
    }
    let ports = try await FakePorts(
        testbed: testbed, bindings: (0..<count).map { ("/dev/ttyACM\($0)", PortBackend.modem("usr5637")) })
    let clock = ContinuousClock()
    let enumeration = try clock.measure { _ = try DeviceEnumerator().serialDevices() }
    let scanner = ModemScanner(settings: ProbeSettings(commandGap: gap, lockDirectory: lockDirectory))
    var found: [DiscoveredPort] = []
    let scan = try await clock.measure { found = try await scanner.scan() }
    await ports.stop()
    return Sample(enumeration: enumeration, scan: scan, modems: found.filter(\.isModem).count)
}

@MainActor
func listing(_ options: Options, lockDirectory: String) async throws -> String {
    let testbed = try Testbed()
    let files = try FileManager.default.contentsOfDirectory(atPath: options.fixtures)
        .filter { $0.hasSuffix(".umockdev") }.sorted()
    for file in files { try testbed.add(file: options.fixtures + "/" + file) }
    let ports = try await FakePorts(testbed: testbed, bindings: [
        ("/dev/ttyACM0", .modem("usr5637")), ("/dev/ttyACM1", .gps), ("/dev/ttyUSB0", .modem("sportster")),
        ("/dev/ttyUSB4", .modem("ec25")), ("/dev/ttyUSB5", .modem("ec25")),
    ])
    let clock = ContinuousClock()
    var found: [DiscoveredPort] = []
    let elapsed = try await clock.measure {
        found = try await ModemScanner(settings: ProbeSettings(lockDirectory: lockDirectory)).scan()
    }
    await ports.stop()
    return ListingTable.render(found) + "\n(\(files.count) fixture files; scan took \(format(elapsed)))"
}

func format(_ duration: Duration) -> String {
    String(format: "%.1f ms", Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
}

@MainActor
func run() async throws {
    try Preload.relaunchIfNeeded()
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let lockDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("discovery-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: lockDirectory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: lockDirectory) }

    for gap in [Duration.milliseconds(100), .zero] {
        print("\(options.runs) runs per count; 1 s answer deadline, \(format(gap)) between commands")
        print("modems  enumerate (median)  scan min  scan median  scan max  modems found")
        for count in options.counts {
            var samples: [Sample] = []
            for _ in 0..<options.runs {
                samples.append(try await measure(count: count, gap: gap, lockDirectory: lockDirectory.path))
            }
            let scans = samples.map(\.scan).sorted()
            let enumerations = samples.map(\.enumeration).sorted()
            let found = Set(samples.map(\.modems)).sorted().map(String.init).joined(separator: "/")
            print(
                String(count).padding(toLength: 8, withPad: " ", startingAt: 0)
                    + format(enumerations[enumerations.count / 2]).padding(toLength: 20, withPad: " ", startingAt: 0)
                    + format(scans[0]).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + format(scans[scans.count / 2]).padding(toLength: 13, withPad: " ", startingAt: 0)
                    + format(scans[scans.count - 1]).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + "\(found) of \(count)")
        }
        print("")
    }
    print("Listing of the fixture set (\(options.fixtures)):")
    print(try await listing(options, lockDirectory: lockDirectory.path))
}

do {
    try await run()
} catch {
    try? FileHandle.standardError.write(contentsOf: Data("discovery-bench: \(error)\n".utf8))
    exit(1)
}
