import FakeModem
import Foundation
import Hayes
import RAS
import Serial
import SystemIO
import Testing
import TestSupport

/// The data path: after CONNECT a pty carries the line to whatever program opens it, and the
/// manager keeps owning the call. The far end is the fake modem's loopback (every byte comes
/// back), or a second fake modem that answered.
@Suite("Data path")
struct DataPathTests {
    /// A payload with every byte value, `+++` (no guard time around it: data, not an
    /// escape), XON/XOFF and NULs, and a command line the online modem must not execute.
    static func payload(_ count: Int) -> [UInt8] {
        var bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9)) }
        let specials: [[UInt8]] = [Array("+++".utf8), [0x11, 0x13, 0x11], [0, 0, 0, 0], Array("\r\nATH\r".utf8)]
        for (index, special) in specials.enumerated() {
            let at = (count / (specials.count + 1)) * (index + 1)
            if at + special.count <= count { bytes.replaceSubrange(at..<(at + special.count), with: special) }
        }
        return bytes
    }

    /// Opens the data path the way any program opens a serial port.
    static func open(_ path: String) throws -> SerialPort {
        try SerialPort(path: path, options: SerialOptions(speed: .b115200), exclusive: false)
    }

    /// Reads exactly `count` bytes (fewer if the deadline passes or the line ends), sleeping
    /// `pause` between reads of at most `chunk` bytes: a slow reader.
    static func read(_ port: SerialPort, count: Int, chunk: Int = 65536, pause: Duration? = nil,
                     timeout: Duration = .seconds(30)) async -> [UInt8] {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while received.count < count && ContinuousClock.now < deadline {
            guard let bytes = try? await port.read(maxCount: min(chunk, count - received.count), deadline: deadline) else { break }
            received += bytes
            if let pause { try? await Task.sleep(for: pause) }
        }
        return received
    }

    /// Reads until the line ends (end-of-file or EIO, as a program sees a hang-up).
    static func readUntilHangUp(_ port: SerialPort, timeout: Duration = .seconds(10)) async -> (bytes: [UInt8], hungUp: Bool) {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                received += try await port.read(deadline: deadline)
            } catch {
                return (received, true)
            }
        }
        return (received, false)
    }

    @Test("after CONNECT the status names a 0600 data path that carries 1 MiB both ways, byte for byte")
    func carriesEverything() async throws {
        let lab = try await ModemLab()
        let (handle, seen) = try await lab.dial("5551234")
        #expect(seen.last?.state == .connected)
        let status = try await lab.manager.connectStatus(handle)
        let path = try #require(status.dataPath)
        #expect(path.hasPrefix("/dev/pts/"))
        let file = try FileStatus.of(path)
        #expect(file.permissions & 0o777 == 0o600)
        #expect(file.owner == ProcessIdentity.effectiveUserID)

        let line = try Self.open(path)
        let payload = Self.payload(1 << 20)
        let writer = Task { try await line.write(payload, deadline: .now + .seconds(30)) }
        let echoed = await Self.read(line, count: payload.count)
        try await writer.value
        #expect(echoed.count == payload.count)
        #expect(echoed == payload, "nothing lost, duplicated or reordered")
        #expect(lab.bank.modems[0].mode == .online, "'+++' inside data is no escape")

        let stats = try await lab.manager.statistics(handle)
        #expect(stats.bytesSent == payload.count)
        #expect(stats.bytesReceived == payload.count)
        #expect(stats.chunksSent > 0 && stats.chunksReceived > 0)
        #expect(stats.connectRate == 33600)
        #expect(!stats.lineErrorsAvailable, "a pty keeps no line error counters")
        #expect(stats.framingErrors == nil && stats.parityErrors == nil && stats.overrunErrors == nil)
        #expect(stats.bufferOverrunErrors == 0)
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("a slow reader is back-pressured: 512 KiB read 4 KiB at a time arrive whole, nothing dropped")
    func slowReader() async throws {
        let lab = try await ModemLab()
        let (handle, _) = try await lab.dial("5551234")
        let line = try Self.open(try #require(try await lab.manager.connectStatus(handle).dataPath))
        let payload = Self.payload(512 * 1024)
        let writer = Task { try await line.write(payload, deadline: .now + .seconds(60)) }
        // Let the far end's echo pile up against the data path before reading it slowly.
        try await Task.sleep(for: .milliseconds(300))
        let echoed = await Self.read(line, count: payload.count, chunk: 4096, pause: .milliseconds(1))
        try await writer.value
        #expect(echoed == payload)
        #expect(try await lab.manager.statistics(handle).bufferOverrunErrors == 0)
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("output-overflow") }, "the modem was paused, not overrun")
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("closing the data path keeps the call; a program that opens it later reads what arrived meanwhile")
    func reopen() async throws {
        let lab = try await ModemLab()
        let (handle, _) = try await lab.dial("5551234")
        let path = try #require(try await lab.manager.connectStatus(handle).dataPath)
        var line = try Self.open(path)
        try await line.write(Array("while you were away".utf8), deadline: .now + .seconds(2))
        // SerialPort.close discards output not yet taken (TCOFLUSH, which on a pty reaches
        // the master's queue): give the relay a moment to take it first.
        try await Task.sleep(for: .milliseconds(200))
        line.close()
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await lab.manager.connectStatus(handle).state == .connected)
        line = try Self.open(path)
        let waiting = await Self.read(line, count: 19, timeout: .seconds(5))
        #expect(String(decoding: waiting, as: UTF8.self) == "while you were away")
        // And the line still works both ways.
        try await line.write(Array("again".utf8), deadline: .now + .seconds(2))
        #expect(await Self.read(line, count: 5, timeout: .seconds(5)) == Array("again".utf8))
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("carrier loss ends the call with 629 and the program reads the end of the line")
    func carrierLoss() async throws {
        var modem = ModemLab.modem()
        modem.registers[10] = 1  // NO CARRIER 100 ms after the carrier goes
        let lab = try await ModemLab(
            otherwise: CallOutcome(delay: .milliseconds(50), kind: .connect(ConnectSpec(
                result: ResultCode(text: "CONNECT 33600", code: 1), carrierDropAfter: .milliseconds(600)))),
            modem: modem)
        let (handle, _) = try await lab.dial("5551234")
        let line = try Self.open(try #require(try await lab.manager.connectStatus(handle).dataPath))
        let started = ContinuousClock.now
        let (bytes, hungUp) = await Self.readUntilHangUp(line)
        print("data path: hang-up seen \(started.duration(to: .now).milliseconds) ms after opening (carrier dropped at 600 ms, NO CARRIER at ~700 ms)")
        #expect(hungUp, "the program on the data path sees the hang-up")
        #expect(String(decoding: bytes, as: UTF8.self).contains("NO CARRIER"), "what the modem said is passed on first")
        let status = try await lab.manager.connectStatus(handle)
        #expect(status.state == .disconnected)
        #expect(status.error?.code == 629)
        #expect(status.dataPath == nil)
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("a hang-up closes the data path: the program reads the end of the line, the link goes")
    func hangUp() async throws {
        let lines = try TestSupport.temporaryDirectory("lines")
        defer { TestSupport.remove(lines) }
        let lab = try await ModemLab(linesDirectory: lines.path)
        let (handle, _) = try await lab.dial("5551234")
        let path = try #require(try await lab.manager.connectStatus(handle).dataPath)
        let link = lines.path + "/.5551234"
        #expect(SymbolicLink.target(of: link) == path, "lines/<entry> names the data path")
        let line = try Self.open(link)
        let reader = Task { await Self.readUntilHangUp(line) }
        try await Task.sleep(for: .milliseconds(100))
        try await lab.manager.hangUp(handle)
        let (_, hungUp) = await reader.value
        #expect(hungUp)
        #expect(await lab.waitUntilGone(handle) != nil)
        #expect(SymbolicLink.target(of: link) == nil, "the link is removed with the call")
        #expect(!FileManager.default.fileExists(atPath: path) || TestSupport.descriptorCount(referringTo: path) <= 1)
        line.close()
        await lab.finish()
    }

    @Test("speed and RTS/CTS set on the data path reach the modem's port")
    func settingsReachThePort() async throws {
        let lab = try await ModemLab()
        let (handle, _) = try await lab.dial("5551234")
        let line = try Self.open(try #require(try await lab.manager.connectStatus(handle).dataPath))
        let mark = lab.bank.modems[0].transcriptMark
        try line.configure(SerialOptions(speed: .b9600, flowControl: .hardware))
        try await line.write(Array("x".utf8), deadline: .now + .seconds(2))
        let event = await lab.bank.modems[0].waitForEvent("line-settings", after: mark, timeout: .seconds(5))
        #expect(event == "line-settings speed=9600 crtscts=on")
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("IdleDisconnectSeconds counts traffic on the data path")
    func idleCountsDataPath() async throws {
        let folder = try TestSupport.temporaryDirectory("idle")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let phonebook = folder.appendingPathComponent("idle.pbk").path
        try "[Idle]\nPhoneNumber=5551234\nPort=\(lab.port())\nIdleDisconnectSeconds=1\n".write(toFile: phonebook, atomically: true, encoding: .utf8)
        let dial = try await lab.manager.dial(.entry("Idle", phonebookPath: phonebook))
        _ = await ModemLab.collect(dial.notifications)
        let line = try Self.open(try #require(try await lab.manager.connectStatus(dial.handle).dataPath))
        for _ in 0..<6 {
            try await line.write(Array("ping".utf8), deadline: .now + .seconds(1))
            _ = await Self.read(line, count: 4, timeout: .seconds(1))
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(try await lab.manager.connectStatus(dial.handle).state == .connected, "1.8 s of traffic every 0.3 s is not idle")
        let idle = await TestSupport.eventually(timeout: .seconds(5)) {
            (try? await lab.manager.connectStatus(dial.handle))?.error?.code == 828
        }
        #expect(idle, "silence on the data path for 1 s ends the call with 828")
        line.close()
        try await lab.hangUpAndWait(dial.handle)
        await lab.finish()
    }

    @Test("two fake modems: what one side's program writes, the other side's computer reads, both ways")
    func modemToModem() async throws {
        var modem = ModemLab.modem()
        modem.registers[0] = 1  // auto-answer on the first ring
        let lab = try await ModemLab(modem: modem, count: 2)
        // Modem B's computer: opened raw, it only listens and talks once the call is up.
        let far = try Self.open(lab.port(1))
        let (handle, seen) = try await lab.dial(lab.bank.modems[1].number, modem: 0)
        #expect(seen.last?.state == .connected)
        let line = try Self.open(try #require(try await lab.manager.connectStatus(handle).dataPath))
        // B's computer sees RING … CONNECT; then the line is data.
        let greeting = await Self.read(far, count: 4096, timeout: .milliseconds(500))
        #expect(String(decoding: greeting, as: UTF8.self).contains("CONNECT"))
        let outbound = Self.payload(64 * 1024)
        let writer = Task { try await line.write(outbound, deadline: .now + .seconds(20)) }
        #expect(await Self.read(far, count: outbound.count) == outbound)
        try await writer.value
        let inbound = Array(Self.payload(32 * 1024).reversed())
        try await far.write(inbound, deadline: .now + .seconds(20))
        #expect(await Self.read(line, count: inbound.count) == inbound)
        // B hangs up (DTR drop): A's program reads the end, the call ends with 629.
        let reader = Task { await Self.readUntilHangUp(line) }
        _ = try await far.dropDTR(for: .milliseconds(300))
        let (_, hungUp) = await reader.value
        #expect(hungUp)
        #expect(try await lab.manager.connectStatus(handle).error?.code == 629)
        far.close()
        line.close()
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }
}
