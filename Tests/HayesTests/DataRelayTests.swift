import FakeModem
import Foundation
import Hayes
import Serial
import Testing
import TestSupport

/// The relay between a modem port and its data line, on a fake modem's real pty.
@Suite("Data relay")
struct DataRelayTests {
    /// A program may open the data line and set it before the relay takes its first look
    /// (the manager publishes the line, then starts the relay): the change must still reach
    /// the port, so the relay measures it against the port's settings, not a late sample.
    @Test("settings a program made before the relay started still reach the port")
    func settingsBeforeTheRelayStarts() async throws {
        let bench = try await ModemSessionTests.Bench()
        try await bench.session.initialize()
        guard case .connected = try await bench.session.dial(DialString("5551234"), timeout: .seconds(5)) else {
            Issue.record("the fake modem did not connect")
            await bench.finish()
            return
        }
        let line = try PseudoTerminal()
        defer { line.close() }
        let options = try bench.port.currentOptions()
        try line.setSlaveSettings(speed: options.speed, hardwareFlowControl: options.flowControl == .hardware)
        #expect(options.speed != .b9600 && options.flowControl != .hardware, "the test changes both")

        let program = try SerialPort(path: line.slavePath, options: options, exclusive: false)
        defer { program.close() }
        try program.configure(SerialOptions(speed: .b9600, flowControl: .hardware))
        let mark = bench.bank.modems[0].transcriptMark

        let relay = Task { try await bench.session.carryData(through: line, traffic: LineTraffic()) }
        try await program.write(Array("x".utf8), deadline: .now + .seconds(2))
        let event = await bench.bank.modems[0].waitForEvent("line-settings", after: mark, timeout: .seconds(5))
        #expect(event == "line-settings speed=9600 crtscts=on")
        let applied = try bench.port.currentOptions()
        #expect(applied.speed == .b9600)
        #expect(applied.flowControl == .hardware)

        relay.cancel()
        _ = try? await relay.value
        _ = await bench.session.hangUp()
        await bench.finish()
    }
}
