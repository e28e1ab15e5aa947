import FakeModem
import Foundation
import Serial
import Testing

/// The `Fixtures/scenarios` folder of the repository, found from this source file.
let scenariosFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/scenarios")

/// Loads a fixture scenario.
func fixture(_ name: String) throws(ScenarioError) -> Scenario {
    try Scenario(contentsOf: scenariosFolder.appendingPathComponent(name))
}

/// A scenario from YAML text.
func scenario(_ yaml: String) throws(ScenarioError) -> Scenario {
    try Scenario(yaml: yaml, source: "test.yaml")
}

/// Runs `body` with a started bank and stops the bank afterwards, also when `body` throws.
func withBank<T>(
    _ scenario: Scenario = .default, count: Int? = nil, transcriptPath: String? = nil,
    _ body: (FakeModemBank) async throws -> T
) async throws -> T {
    let bank = try FakeModemBank(scenario: scenario, count: count, transcriptPath: transcriptPath)
    try await bank.start()
    do {
        let result = try await body(bank)
        await bank.stop()
        return result
    } catch {
        await bank.stop()
        throw error
    }
}

/// What a ``ModemClient`` wait did not find.
struct ClientTimeout: Error, CustomStringConvertible {
    let expected: String
    let received: [UInt8]
    var description: String {
        "timed out waiting for \"\(TranscriptEntry.escape(Array(expected.utf8)))\"; received \"\(TranscriptEntry.escape(received))\""
    }
}

/// The program side of a fake modem: a `SerialPort` on its slave, as a dialer would use,
/// with a buffer for what has been read but not yet consumed.
final class ModemClient {
    let port: SerialPort
    private var buffer: [UInt8] = []

    init(_ path: String, options: SerialOptions = SerialOptions()) throws {
        port = try SerialPort(path: path, options: options, exclusive: false)
    }

    convenience init(_ modem: EmulatedModem, options: SerialOptions = SerialOptions()) throws {
        try self.init(modem.slavePath, options: options)
    }

    deinit { port.close() }

    func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) async throws {
        try await port.write(bytes, deadline: .now + .seconds(3))
    }

    /// Reads until `text` has arrived; returns everything up to and including it (the rest
    /// stays buffered).
    @discardableResult
    func read(until text: String, timeout: Duration = .seconds(4)) async throws -> String {
        String(decoding: try await readBytes(until: Array(text.utf8), timeout: timeout), as: UTF8.self)
    }

    func readBytes(until pattern: [UInt8], timeout: Duration = .seconds(4)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = buffer.firstRange(of: pattern) {
                let consumed = Array(buffer[..<range.upperBound])
                buffer.removeFirst(range.upperBound)
                return consumed
            }
            guard ContinuousClock.now < deadline else { throw ClientTimeout(expected: String(decoding: pattern, as: UTF8.self), received: buffer) }
            buffer += try await port.read(deadline: deadline)
        }
    }

    /// Everything that arrives within `duration` (plus what was buffered).
    func drain(for duration: Duration) async throws -> String {
        String(decoding: try await drainBytes(for: duration), as: UTF8.self)
    }

    func drainBytes(for duration: Duration) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            buffer += try await port.read(deadline: deadline)
        }
        defer { buffer.removeAll() }
        return buffer
    }

    /// Sends a command line (with CR) and returns the response up to `expect`.
    @discardableResult
    func command(_ line: String, expect: String = "OK\r\n", timeout: Duration = .seconds(4)) async throws -> String {
        try await send(line + "\r")
        return try await read(until: expect, timeout: timeout)
    }

    func close() { port.close() }
}

extension EmulatedModem {
    /// Waits for an event and fails the test with the modem's events if it does not come.
    @discardableResult
    func expectEvent(_ prefix: String, after mark: Int = 0, timeout: Duration = .seconds(4),
                     sourceLocation: SourceLocation = #_sourceLocation) async -> String? {
        let event = await waitForEvent(prefix, after: mark, timeout: timeout)
        if event == nil {
            Issue.record("\(name): no event '\(prefix)…'; events: \(events(after: mark))", sourceLocation: sourceLocation)
        }
        return event
    }
}

/// Waits until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(4), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
