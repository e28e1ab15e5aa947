import FakeModem
import Foundation
import Hayes
import Serial
import TestSupport
import Testing
@testable import ModemDiscovery

/// The AT probe against the project's fake modem on ptys (no udev involved).
@Suite("AT probe", .serialized)
struct ProbeTests {
    static let usr = ModemIdentity(
        information: [0: "5601", 3: "U.S. Robotics 56K FAX USB V1.2.23"],
        manufacturer: "U.S. Robotics", model: "USR5637", revision: "1.2.23", serialNumber: "0000001",
        capabilities: "+GCAP: +FCLASS, +MS, +ES, +DS")

    /// Runs `body` with a started bank of modems and a temporary lock directory.
    func withBank<T>(
        _ settings: [ModemSettings], _ body: (FakeModemBank, String) async throws -> T
    ) async throws -> T {
        let lockDirectory = try TestSupport.temporaryDirectory("probe-locks")
        defer { TestSupport.remove(lockDirectory) }
        let bank = try FakeModemBank(scenario: Scenario(modems: settings), count: settings.count)
        try await bank.start()
        do {
            let result = try await body(bank, lockDirectory.path)
            await bank.stop()
            return result
        } catch {
            await bank.stop()
            throw error
        }
    }

    func received(_ modem: EmulatedModem) -> String {
        String(decoding: modem.transcript.filter { $0.direction == .fromComputer }.flatMap(\.bytes), as: UTF8.self)
    }

    @Test("a modem is identified by ATI, +GCAP, +GMI, +GMM, +GMR, +GSN")
    func identifiesModem() async throws {
        try await withBank([ModemSettings(identity: Self.usr)]) { bank, locks in
            let modem = bank.modems[0]
            let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks)).probe(path: modem.slavePath)
            #expect(result.status == .modem)
            let identity = try #require(result.identity)
            #expect(identity.attentionResult == "OK")
            #expect(identity.information == ["5601"])
            #expect(identity.capabilities == ["+FCLASS", "+MS", "+ES", "+DS"])
            #expect(identity.isDataModem && identity.supportsFax)
            #expect(identity.manufacturer == "U.S. Robotics")
            #expect(identity.model == "USR5637")
            #expect(identity.revision == "1.2.23")
            #expect(identity.serialNumber == "0000001")
            #expect(result.speed == 115200)
            #expect(received(modem) == "ATQ0V1E0\rAT\rATI0\rAT+GCAP\rAT+GMI\rAT+GMM\rAT+GMR\rAT+GSN\r")
            // The lock is released and the port closed.
            #expect(try FileManager.default.contentsOfDirectory(atPath: locks).isEmpty)
            #expect(!TestSupport.openDescriptors().values.contains(modem.slavePath))
        }
    }

    @Test("a modem left in Q1 V0 E1 answers after ATQ0V1E0")
    func quietNumericModem() async throws {
        try await withBank([ModemSettings(identity: Self.usr, profile: "Q1 V0 E1")]) { bank, locks in
            let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks)).probe(path: bank.modems[0].slavePath)
            #expect(result.status == .modem)
            #expect(result.identity?.model == "USR5637")
        }
    }

    @Test("a modem that drops the first line, or keeps echoing, is still found")
    func quirkyModems() async throws {
        try await withBank([
            ModemSettings(identity: Self.usr, faults: FaultSet(droppedFirstLines: 1)),
            ModemSettings(identity: Self.usr, faults: FaultSet(stuckEcho: true)),
            ModemSettings(identity: Self.usr, faults: FaultSet(omitsLeadingCRLF: true)),
        ]) { bank, locks in
            let probe = ModemProbe(settings: ProbeSettings(lockDirectory: locks))
            for modem in bank.modems {
                let result = await probe.probe(path: modem.slavePath)
                #expect(result.status == .modem, "\(modem.name): \(result)")
                #expect(result.identity?.information == ["5601"], "\(modem.name)")
                #expect(result.identity?.manufacturer == "U.S. Robotics", "\(modem.name)")
            }
        }
    }

    @Test("commands answered with ERROR leave their fields empty")
    func errorAnswers() async throws {
        let bare = ModemIdentity(information: [:], manufacturer: "", model: "", revision: "", serialNumber: "", capabilities: "")
        try await withBank([ModemSettings(identity: bare)]) { bank, locks in
            let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks)).probe(path: bank.modems[0].slavePath)
            #expect(result.status == .modem)
            #expect(result.identity == ProbedIdentity(attentionResult: "OK"))
        }
    }

    @Test("a port locked by a live process is skipped and never opened")
    func lockedPort() async throws {
        try await withBank([ModemSettings(identity: Self.usr)]) { bank, locks in
            let modem = bank.modems[0]
            let lock = try UUCPLock.acquire(device: modem.slavePath, directory: locks, pid: 1)
            defer { lock.release() }
            let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks)).probe(path: modem.slavePath)
            #expect(result.status == .inUse)
            #expect(result.detail?.contains("locked by process 1") == true)
            try await Task.sleep(for: .milliseconds(100))
            #expect(received(modem).isEmpty)
            #expect(!TestSupport.openDescriptors().values.contains(modem.slavePath))
        }
    }

    @Test("a port another program holds exclusively is skipped")
    func portInUse() async throws {
        try await withBank([ModemSettings(identity: Self.usr)]) { bank, locks in
            let modem = bank.modems[0]
            let holder = try SerialPort(path: modem.slavePath)
            defer { holder.close() }
            let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks)).probe(path: modem.slavePath)
            #expect(result.status == .inUse)
            #expect(received(modem).isEmpty)
        }
    }

    @Test("silence, a loopback and a GPS receiver are not modems")
    func notModems() async throws {
        let locks = try TestSupport.temporaryDirectory("probe-locks")
        defer { TestSupport.remove(locks) }
        let silent = try PseudoTerminal()
        let loopback = try PseudoTerminal()
        let gps = try PseudoTerminal()
        defer {
            silent.close()
            loopback.close()
            gps.close()
        }
        let talkers = Task {
            let sentence = Array("$GPGGA,123519.00,4807.03830,N,01131.00000,E,1,08,0.94,545.4,M,46.9,M,,*5B\r\n".utf8)
            while !Task.isCancelled {
                if let bytes = try? loopback.readNow(), !bytes.isEmpty { _ = try? loopback.writeNow(bytes) }
                _ = try? gps.readNow()
                _ = try? gps.writeNow(sentence)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { talkers.cancel() }
        let probe = ModemProbe(settings: ProbeSettings(answerTimeout: .milliseconds(400), lockDirectory: locks.path))
        let quiet = await probe.probe(path: silent.slavePath)
        #expect(quiet.status == .notModem)
        #expect(quiet.detail == "no answer to AT")
        let echo = await probe.probe(path: loopback.slavePath)
        #expect(echo.status == .notModem)
        let nmea = await probe.probe(path: gps.slavePath)
        #expect(nmea.status == .notModem)
        #expect(nmea.detail?.contains("$GPGGA") == true)
    }

    @Test("a missing device is a failure, not a modem")
    func missingDevice() async throws {
        let locks = try TestSupport.temporaryDirectory("probe-locks")
        defer { TestSupport.remove(locks) }
        let result = await ModemProbe(settings: ProbeSettings(lockDirectory: locks.path)).probe(path: "/nonexistent/ttyACM9")
        #expect(result.status == .failed)
        #expect(result.identity == nil)
    }

    @Test("many ports are probed at once, and every modem is named")
    func scannerProbesAll() async throws {
        let count = 8
        let settings = (0..<count).map { index in
            var identity = Self.usr
            identity.serialNumber = "SN\(index)"
            return ModemSettings(identity: identity)
        }
        try await withBank(settings) { bank, locks in
            let silent = try PseudoTerminal()
            defer { silent.close() }
            var devices = bank.modems.map { modem in
                SerialDevice(
                    kernelName: modem.name, devnode: modem.slavePath, syspath: "/sys/devices/fake/\(modem.name)",
                    driver: "fake", bus: "platform", properties: [RuleHints.candidateKey: "1"])
            }
            devices.append(SerialDevice(
                kernelName: "silent", devnode: silent.slavePath, syspath: "/sys/devices/fake/silent", driver: "fake",
                bus: "platform", properties: [RuleHints.candidateKey: "1", RuleHints.probeSpeedKey: "57600"]))
            devices.append(SerialDevice(
                kernelName: "untagged", devnode: "/nonexistent/untagged", syspath: "/sys/devices/fake/untagged",
                driver: "fake", bus: "platform"))
            let scanner = ModemScanner(settings: ProbeSettings(answerTimeout: .seconds(1), lockDirectory: locks))
            let ports = await scanner.inspect(devices)
            #expect(ports.map(\.device) == devices)
            #expect(ports.prefix(count).allSatisfy { $0.isModem })
            #expect(ports.prefix(count).map(\.name) == (0..<count).map { "U.S._Robotics_USR5637_SN\($0)" })
            #expect(ports[count].probe?.status == .notModem)
            #expect(ports[count].probe?.speed == 57600)
            #expect(ports[count].name == "silent")
            #expect(ports[count + 1].probe == nil)
            #expect(ports[count + 1].decision.reason == .notACandidate)
        }
    }

    @Test("+GCAP and +GMI-style answers are parsed with or without their prefix")
    func parsing() {
        let caps = CommandResponse(final: .ok, info: ["+GCAP: +FCLASS, +MS,+ES", "+DS"])
        #expect(ModemProbe.capabilities(caps) == ["+FCLASS", "+MS", "+ES", "+DS"])
        #expect(ModemProbe.capabilities(CommandResponse(final: .error)).isEmpty)
        #expect(ModemProbe.capabilities(nil).isEmpty)
        #expect(ModemProbe.text(CommandResponse(final: .ok, info: ["+GMI: Zoom"]), prefix: "+GMI:") == "Zoom")
        #expect(ModemProbe.text(CommandResponse(final: .ok, info: ["+CGMI: Quectel"]), prefix: "+GMI:") == "Quectel")
        #expect(ModemProbe.text(CommandResponse(final: .ok, info: ["USRobotics", "Sportster"]), prefix: "+GMM:") == "USRobotics Sportster")
        #expect(ModemProbe.text(CommandResponse(final: .ok, info: []), prefix: "+GSN:") == nil)
        #expect(ModemProbe.text(CommandResponse(final: .error, info: ["x"]), prefix: "+GSN:") == nil)
    }
}
