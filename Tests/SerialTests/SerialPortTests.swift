import Foundation
import Serial
import SystemIO
import SystemPackage
import Testing
import TestSupport

@Suite("SerialPort on real ptys")
struct SerialPortTests {
    @Test("every option a pty can hold round-trips through the driver")
    func optionsRoundTrip() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        let variants: [SerialOptions] = [
            SerialOptions(),
            SerialOptions(speed: .b300, stopBits: .two, flowControl: .hardware),
            SerialOptions(speed: .b9600, flowControl: .software, ignoresCarrier: false),
            SerialOptions(speed: .b57600, hangUpOnClose: false),
            SerialOptions(speed: .b4000000, stopBits: .two, ignoresCarrier: false, hangUpOnClose: false),
        ]
        for options in variants {
            try port.configure(options)
            let back = try port.currentOptions()
            #expect(back == options, "set \(options), read back \(back)")
        }
        for speed in BaudRate.all {
            try port.configure(SerialOptions(speed: speed))
            #expect(try port.currentOptions().speed == speed)
        }
    }

    @Test("framing the driver silently ignores is reported, not assumed", arguments: [
        SerialOptions(dataBits: .seven, parity: .even),
        SerialOptions(dataBits: .five),
        SerialOptions(parity: .odd),
        SerialOptions(parity: .mark),
    ])
    func framingAPtyCannotHold(options: SerialOptions) throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        #expect(throws: SerialError.unsupported(operation: "configure \(options)", path: pty.slavePath)) {
            try port.configure(options)
        }
        #expect(throws: SerialError.unsupported(operation: "configure \(options)", path: pty.slavePath)) {
            try SerialPort(path: pty.slavePath, options: options, exclusive: false)
        }
        #expect(TestSupport.descriptorCount(referringTo: pty.slavePath) == 2, "the failed open closed its descriptor")
    }

    @Test("speeds termios cannot express are refused before they reach the driver")
    func unknownSpeeds() {
        #expect(BaudRate(rawValue: 12345) == nil)
        #expect(BaudRate(rawValue: 0) == nil)
        #expect(BaudRate(rawValue: 4_000_001) == nil)
        #expect(BaudRate(rawValue: 300) == .b300)
        #expect(BaudRate.all.first == .b300 && BaudRate.all.last == .b4000000)
    }

    @Test("the slave's settings are visible from the master, HUPCL and CLOCAL included")
    func masterSeesSlaveSettings() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath, options: SerialOptions(speed: .b19200, ignoresCarrier: false, hangUpOnClose: true))
        var seen = try pty.slaveSettings()
        #expect(seen.speed == .b19200)
        #expect(seen.hangUpOnClose)
        #expect(!seen.ignoresCarrier)
        port.close()
        seen = try pty.slaveSettings()
        #expect(seen.hangUpOnClose, "a closed slave keeps its last settings")
    }

    @Test("bytes pass both ways; a read with nothing to read returns empty at its deadline")
    func readWriteAndDeadline() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        let start = ContinuousClock.now
        let nothing = try await port.read(deadline: .now + .milliseconds(50))
        #expect(nothing.isEmpty)
        #expect(ContinuousClock.now - start >= .milliseconds(45))

        try await port.write(Array("ATZ\r".utf8), deadline: .now + .seconds(1))
        var received: [UInt8] = []
        #expect(await TestSupport.eventually {
            received += (try? pty.readNow()) ?? []
            return received == Array("ATZ\r".utf8)
        })
        #expect(try pty.writeNow(Array("\r\nOK\r\n".utf8)) == 6)
        var answer: [UInt8] = []
        while answer.count < 6 {
            let chunk = try await port.read(deadline: .now + .seconds(2))
            #expect(!chunk.isEmpty)
            if chunk.isEmpty { break }
            answer += chunk
        }
        #expect(answer == Array("\r\nOK\r\n".utf8))
    }

    @Test("a write into a full buffer waits for room, and times out if none comes")
    func writeBackpressure() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        let block = [UInt8](repeating: 0x55, count: 256 * 1024)
        await #expect(throws: SerialError.timedOut(operation: "write", path: pty.slavePath)) {
            try await port.write(block, deadline: .now + .milliseconds(100))
        }
        try port.flush(.both)
        let reader = Task {
            var total = 0
            while total < block.count {
                let bytes = (try? pty.readNow(maxCount: 65536)) ?? []
                total += bytes.count
                if bytes.isEmpty { try? await Task.sleep(for: .milliseconds(1)) }
            }
            return total
        }
        try await port.write(block, deadline: .now + .seconds(10))
        try await port.drain(deadline: .now + .seconds(10))
        #expect(await reader.value >= block.count)
    }

    @Test("a pty has no modem lines: a typed 'unsupported', not an errno")
    func modemLinesUnsupported() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        #expect(throws: SerialError.unsupported(operation: "ioctl(TIOCMGET)", path: pty.slavePath)) { try port.modemLines() }
        #expect(throws: SerialError.unsupported(operation: "ioctl(TIOCMBIC)", path: pty.slavePath)) { try port.setModemLines(.dtr, on: false) }
        await #expect(throws: SerialError.self) {
            _ = try await port.waitForModemLineChange(.dcd, deadline: .now + .milliseconds(20))
        }
    }

    @Test("DTR drop on a pty is the speed set to B0, then restored")
    func dtrDropAsSpeedZero() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath, options: SerialOptions(speed: .b57600))
        defer { port.close() }
        let drop = Task { try await port.dropDTR(for: .milliseconds(300)) }
        #expect(await TestSupport.eventually(timeout: .seconds(2)) { (try? pty.slaveSettings().isHangUpSpeed) == true })
        #expect(try await drop.value == .speedZero)
        #expect(try pty.slaveSettings().speed == .b57600)
        #expect(try port.currentOptions().speed == .b57600)
    }

    @Test("closing the master (unplug) makes the slave hang up: reads and writes fail with hangUp")
    func unplugIsHangUp() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        let reader = Task { try await port.read(deadline: .now + .seconds(5)) }
        try await Task.sleep(for: .milliseconds(50))
        pty.close()
        await #expect(throws: SerialError.hangUp(path: pty.slavePath)) { try await reader.value }
        await #expect(throws: SerialError.hangUp(path: pty.slavePath)) { try await port.read(deadline: .now + .seconds(1)) }
        await #expect(throws: SerialError.hangUp(path: pty.slavePath)) { try await port.write([0x41]) }
    }

    @Test("the master sees the slave open and close")
    func slaveOpenClose() throws {
        let pty = try PseudoTerminal()
        #expect(!pty.isSlaveOpen)
        let port = try SerialPort(path: pty.slavePath)
        #expect(pty.isSlaveOpen)
        port.close()
        #expect(!pty.isSlaveOpen)
        #expect(port.isClosed)
    }

    @Test("a second open of a claimed port is refused; after close it opens again")
    func exclusiveOpen() throws {
        let pty = try PseudoTerminal()
        let first = try SerialPort(path: pty.slavePath)
        #expect(throws: SerialError.inUse(path: pty.slavePath)) { try SerialPort(path: pty.slavePath) }
        first.close()
        let again = try SerialPort(path: pty.slavePath)
        again.close()
        #expect(TestSupport.descriptorCount(referringTo: pty.slavePath) == 1, "only the master remains")
    }

    @Test("open errors keep errno and path, and leak no descriptor")
    func openErrors() throws {
        let before = TestSupport.descriptorCount(referringTo: "/dev/null")
        #expect(throws: SerialError.system(operation: "open", path: "/nonexistent/ttyUSB9", errno: .noSuchFileOrDirectory)) {
            try SerialPort(path: "/nonexistent/ttyUSB9")
        }
        #expect(throws: SerialError.system(operation: "tcgetattr", path: "/dev/null", errno: .inappropriateIOCTLForDevice)) {
            try SerialPort(path: "/dev/null")
        }
        #expect(TestSupport.descriptorCount(referringTo: "/dev/null") == before)
    }

    @Test("operations after close fail with .closed; close twice is harmless")
    func useAfterClose() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        port.close()
        port.close()
        await #expect(throws: SerialError.closed(path: pty.slavePath)) { try await port.read(deadline: .now + .seconds(1)) }
        #expect(throws: SerialError.closed(path: pty.slavePath)) { try port.configure(SerialOptions()) }
    }

    @Test("closing a port wakes the task reading it; cancelling a read ends it")
    func closeAndCancelWakeReaders() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        let reader = Task { try await port.read(deadline: .now + .seconds(30)) }
        try await Task.sleep(for: .milliseconds(30))
        port.close()
        await #expect(throws: SerialError.closed(path: pty.slavePath)) { try await reader.value }

        let port2 = try SerialPort(path: pty.slavePath)
        defer { port2.close() }
        let reader2 = Task { try await port2.read(deadline: .now + .seconds(30)) }
        try await Task.sleep(for: .milliseconds(30))
        reader2.cancel()
        await #expect(throws: SerialError.cancelled(operation: "read", path: pty.slavePath)) { try await reader2.value }
    }

    @Test("many ports wait at once without a thread each, and every descriptor is released")
    func manyConcurrentWaits() async throws {
        let ptys = try (0..<64).map { _ in try PseudoTerminal() }
        let ports = try ptys.map { try SerialPort(path: $0.slavePath) }
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for port in ports {
                group.addTask { try await port.read(deadline: .now + .seconds(5)) }
            }
            try await Task.sleep(for: .milliseconds(50))
            for (index, pty) in ptys.enumerated() { try pty.writeNow([UInt8(index)]) }
            var seen = Set<UInt8>()
            for try await bytes in group { seen.formUnion(bytes) }
            #expect(seen.count == 64)
        }
        for port in ports { port.close() }
        for pty in ptys {
            #expect(TestSupport.descriptorCount(referringTo: pty.slavePath) == 1)
            pty.close()
            #expect(TestSupport.descriptorCount(referringTo: pty.slavePath) == 0)
        }
    }

    @Test("flush, drain and break work on a pty")
    func flushDrainBreak() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        try pty.writeNow(Array("stale NO CARRIER\r\n".utf8))
        try await Task.sleep(for: .milliseconds(20))
        try port.flush(.input)
        #expect(try await port.read(deadline: .now + .milliseconds(30)).isEmpty)
        try await port.write(Array("AT\r".utf8))
        try await port.drain(deadline: .now + .seconds(1))
        try await port.sendBreak(duration: .milliseconds(10))
    }

    @Test("a read and a write waiting on one descriptor are delivered apart")
    func aReadAndAWriteWaitOnOneDescriptorAreDeliveredApart() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(path: pty.slavePath)
        defer { port.close() }
        // A read waits with no data while writes go through; then data arrives.
        let reader = Task { try await port.read(deadline: .now + .seconds(5)) }
        try await Task.sleep(for: .milliseconds(50))
        try await port.write(Array("AT\r".utf8), deadline: .now + .seconds(1))
        #expect(try pty.writeNow(Array("OK".utf8)) == 2)
        #expect(try await reader.value == Array("OK".utf8))
    }
}

@Suite("SerialError and the OS layer's SystemError")
struct SerialErrorTests {
    @Test("an OS-layer error becomes the SerialError of the same name, with the same text")
    func systemErrorsMapCaseByCase() {
        let cases: [(SystemError, SerialError)] = [
            (.system(call: "open", path: "/dev/x", errno: .noSuchFileOrDirectory),
             .system(operation: "open", path: "/dev/x", errno: .noSuchFileOrDirectory)),
            (.hangUp(path: "/dev/x"), .hangUp(path: "/dev/x")),
            (.closed(path: "/dev/x"), .closed(path: "/dev/x")),
            (.timedOut(operation: "write", path: "/dev/x"), .timedOut(operation: "write", path: "/dev/x")),
            (.inUse(path: "/dev/x"), .inUse(path: "/dev/x")),
            (.cancelled(operation: "read", path: "/dev/x"), .cancelled(operation: "read", path: "/dev/x")),
            (.notRegularFile(path: "/x", kind: .fifo), .notRegularFile(path: "/x", kind: .fifo)),
            (.tooLarge(path: "/x", limit: 3), .tooLarge(path: "/x", limit: 3)),
            (.notPermitted(path: "/x", reason: "no"), .notPermitted(path: "/x", reason: "no")),
        ]
        for (system, serial) in cases {
            #expect(SerialError(system) == serial)
            #expect(SerialError(system).description == system.description)
            #expect(SerialError(system).errno == system.errno)
            #expect(SerialError(system).path == system.path)
        }
    }
}
