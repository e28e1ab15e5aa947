import FakeModem
import Foundation
import Serial
import SystemIO
import Testing
import TestSupport

/// Runs `body` with a started front end on `modem` (loopback, any free port), stopped after.
func withFrontEnd<T>(
    _ modem: EmulatedModem, _ mode: NetworkFrontEnd.Mode = .raw, _ body: (NetworkFrontEnd) async throws -> T
) async throws -> T {
    let server = try NetworkFrontEnd(modem: modem, host: "127.0.0.1", port: 0, mode: mode)
    try server.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// NOTIFY-MODEMSTATE bits.
private enum Line {
    static let dcd: UInt8 = 0x80, ri: UInt8 = 0x40, dsr: UInt8 = 0x20, cts: UInt8 = 0x10
    static let deltaDCD: UInt8 = 0x08, trailingRI: UInt8 = 0x04, deltaDSR: UInt8 = 0x02, deltaCTS: UInt8 = 0x01
}

@Suite("fakemodem over TCP: raw")
struct NetworkRawTests {
    @Test("AT commands, a call, and every byte (0xFF too) unchanged both ways")
    func rawCall() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem) { server in
                #expect(server.url == "tcp://127.0.0.1:\(server.port)")
                #expect(server.port > 0)
                let client = try await NetworkClient(port: server.port)
                #expect(try await client.command("ATZ") == "ATZ\r\r\nOK\r\n")
                #expect(server.hasClient)
                #expect(try await client.command("ATDT5551234", expect: "CONNECT 115200\r\n") == "ATDT5551234\r\r\nCONNECT 115200\r\n")
                // The far end loops data back: what comes back is what was sent, byte for byte.
                let payload: [UInt8] = [0xFF, 0x00, 0x41, 0xFF, 0xFF, 0x0D, 0x00, 0xFB, 0x2C, 0xF0]
                try await client.send(payload)
                #expect(try await client.readBytes(until: [0xFB, 0x2C, 0xF0]) == payload)
                // And the modem received them as they were: no Telnet in raw mode.
                let received = modem.transcript.filter { $0.direction == .fromComputer }.flatMap(\.bytes)
                #expect(received.firstRange(of: payload) != nil, "\(TranscriptEntry.escape(received))")
                #expect(modem.events.contains { $0.hasPrefix("network-connect 127.0.0.1:") && $0.hasSuffix(" raw") })
            }
        }
    }

    @Test("The client vanishes mid-call: the slave closes (HUPCL drops DTR), the modem goes on-hook, nothing leaks")
    func clientVanishes() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem) { server in
                let client = try await NetworkClient(port: server.port)
                try await client.command("ATDT5551234", expect: "CONNECT 115200\r\n")
                #expect(modem.isOffHook)
                #expect(TestSupport.descriptorCount(referringTo: modem.slavePath) == 2)
                let mark = modem.transcriptMark
                client.close()
                await modem.expectEvent("slave-closed hupcl=yes", after: mark)
                await modem.expectEvent("on-hook dtr", after: mark)
                await modem.expectEvent("network-disconnect 127.0.0.1:", after: mark)
                #expect(modem.mode == .command)
                #expect(!server.hasClient)
                // The master only: the front end closed the slave.
                #expect(TestSupport.descriptorCount(referringTo: modem.slavePath) == 1)
                // The next client finds the modem as a newly opened port would.
                let next = try await NetworkClient(port: server.port)
                #expect(try await next.command("AT") == "AT\r\r\nOK\r\n")
            }
            #expect(TestSupport.descriptorCount(referringTo: modem.slavePath) == 1)
        }
    }

    @Test("One client at a time: a second one is told and closed; after the first leaves the next is served")
    func secondClientRefused() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem) { server in
                let first = try await NetworkClient(port: server.port)
                try await first.command("AT")
                let second = try await NetworkClient(port: server.port)
                #expect(try await second.read(until: "\r\n") == "fakemodem: modem0 is taken by another client\r\n")
                #expect(try await second.waitForClose())
                await modem.expectEvent("network-refused 127.0.0.1:")
                #expect(modem.events.contains { $0.hasPrefix("network-refused") && $0.hasSuffix("busy: another client is connected") })
                #expect(try await first.command("ATI3") == "ATI3\r\r\nFakeModem V1.0\r\n\r\nOK\r\n")

                // The first leaves; the next client, connecting while the modem is still being
                // let go, waits for it and is served.
                first.close()
                #expect(await eventually { !server.hasClient })
                let third = try await NetworkClient(port: server.port)
                #expect(try await third.command("AT") == "AT\r\r\nOK\r\n")
                #expect(modem.events.filter { $0.hasPrefix("slave-open") }.count == 2)
            }
        }
    }

    @Test("A program holding the slave exclusively: the client is told and closed")
    func slaveInUse() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let local = try SerialPort(path: modem.slavePath, exclusive: true)
            defer { local.close() }
            try await withFrontEnd(modem) { server in
                let client = try await NetworkClient(port: server.port)
                #expect(try await client.read(until: "\r\n") == "fakemodem: modem0 is in use by a program on \(modem.slavePath)\r\n")
                #expect(try await client.waitForClose())
                await modem.expectEvent("network-refused")
                #expect(!server.hasClient)
            }
        }
    }

    @Test("An address in use: a clear error; stop twice is harmless, start after stop is refused")
    func addressInUse() async throws {
        let holder = try TCPListener(host: "127.0.0.1", port: 0)
        defer { holder.close() }
        try await withBank { bank in
            #expect {
                _ = try NetworkFrontEnd(modem: bank.modems[0], host: "127.0.0.1", port: holder.port)
            } throws: { error in
                "\(error)".hasPrefix("cannot listen on 127.0.0.1:\(holder.port): ") && "\(error)".contains("in use")
            }
            let server = try NetworkFrontEnd(modem: bank.modems[0], host: "127.0.0.1", port: 0)
            try server.start()
            await server.stop()
            await server.stop()
            #expect(throws: FakeModemError.stopped) { try server.start() }
            await #expect(throws: SystemError.self) { _ = try await NetworkClient(port: server.port) }
        }
    }

    @Test("Listen URLs", arguments: [
        ("tcp://127.0.0.1:0", "127.0.0.1", 0, NetworkFrontEnd.Mode.raw),
        ("rfc2217://localhost:2217", "localhost", 2217, .rfc2217),
        ("TCP://[::1]:65535", "::1", 65535, .raw),
        ("tcp://modem-host.example:7000", "modem-host.example", 7000, .raw),
    ])
    func endpoints(_ url: String, _ host: String, _ port: Int, _ mode: NetworkFrontEnd.Mode) throws {
        let endpoint = try NetworkFrontEnd.Endpoint(url: url)
        #expect(endpoint == NetworkFrontEnd.Endpoint(host: host, port: port, mode: mode))
    }

    @Test("Bad listen URLs", arguments: [
        "127.0.0.1:5000", "http://127.0.0.1:80", "tcp://:5000", "tcp://host", "tcp://host:", "tcp://host:65536",
        "tcp://host:-1", "tcp://::1:5000", "tcp://host:50/x", "tcp://[::1]5000", "tcp://[]:1", "tcp://a b:1", "tcp://host:123456",
    ])
    func badEndpoints(_ url: String) {
        #expect(throws: FakeModemError.self) { try NetworkFrontEnd.Endpoint(url: url) }
    }
}

@Suite("fakemodem over TCP: RFC 2217")
struct NetworkRFC2217Tests {
    @Test("Negotiation, SIGNATURE, SET-BAUDRATE applied to the slave, 8N1 only, SET-CONTROL answers, PURGE, masks")
    func negotiationAndSettings() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem, .rfc2217) { server in
                #expect(server.url == "rfc2217://127.0.0.1:\(server.port)")
                let client = try await NetworkClient(port: server.port, telnet: true)
                // The server offers BINARY and SUPPRESS-GO-AHEAD both ways at once.
                for verb in [Telnet.Verb.will, .do] {
                    for option in [Telnet.Option.binary, Telnet.Option.suppressGoAhead] { try await client.negotiation(verb, option) }
                }
                try await client.negotiateComPort()
                // The first NOTIFY-MODEMSTATE: DSR and CTS on, no carrier, no ring.
                #expect(try await client.answer(.notifyModemState).byte == Line.dsr | Line.cts)
                // Refused: ECHO (the modem echoes itself), and options it does not know.
                try await client.send(Telnet.negotiation(.do, Telnet.Option.echo) + Telnet.negotiation(.will, 24))
                try await client.negotiation(.wont, Telnet.Option.echo)
                try await client.negotiation(.dont, 24)

                try await client.send(.signature)
                #expect(try await client.answer(.signature).value == Array("swift-ras fakemodem".utf8))

                let mark = modem.transcriptMark
                try await client.send(.setBaudRate, ComPort.bytes(of: 57600))
                #expect(try await client.answer(.setBaudRate).number == 57600)
                await modem.expectEvent("line-settings speed=57600 crtscts=off", after: mark)
                for asked in [0, 12345] as [UInt32] {  // a request, and a speed termios lacks
                    try await client.send(.setBaudRate, ComPort.bytes(of: asked))
                    #expect(try await client.answer(.setBaudRate).number == 57600)
                }
                #expect(modem.events(after: mark).contains("rfc2217 set-baudrate 12345 refused"))

                // A pty is 8N1: other sizes are answered with what is in effect.
                for (command, asked, answered) in [(ComPort.Command.setDataSize, 7, 8), (.setParity, 3, 1), (.setStopSize, 2, 1),
                                                   (.setDataSize, 0, 8), (.setParity, 1, 1)] as [(ComPort.Command, UInt8, UInt8)] {
                    try await client.send(command, [asked])
                    #expect(try await client.answer(command).value == [answered], "\(command) \(asked)")
                }

                // SET-CONTROL: each answer is the state in effect. Hardware flow control is
                // CRTSCTS on the slave.
                try await client.send(.setControl, [ComPort.Control.hardwareFlowControl.rawValue])
                #expect(try await client.answer(.setControl).value == [ComPort.Control.hardwareFlowControl.rawValue])
                await modem.expectEvent("line-settings speed=57600 crtscts=on", after: mark)
                let controls: [(UInt8, UInt8)] = [
                    (0, 3), (13, 16), (2, 3), (1, 1), (0, 1), (14, 14),  // flow control: request, inbound, XON/XOFF refused, none
                    (10, 11), (12, 12), (10, 12), (11, 11),  // RTS
                    (4, 6), (5, 5), (4, 5), (6, 6),  // BREAK
                    (7, 8), (8, 8),  // DTR (on already)
                ]
                let controlMark = modem.transcriptMark
                for (sent, answered) in controls {
                    try await client.send(.setControl, [sent])
                    #expect(try await client.answer(.setControl).value == [answered], "SET-CONTROL \(sent)")
                }
                await modem.expectEvent("line-settings speed=57600 crtscts=off", after: controlMark)
                for event in ["rfc2217 set-control flow-xon-xoff refused", "rfc2217 set-control flow-none", "rfc2217 set-control rts-off",
                              "rfc2217 set-control break-on", "rfc2217 set-control break-off"] {
                    #expect(modem.events(after: controlMark).contains(event), "\(event)")
                }

                for purge in [1, 2, 3] as [UInt8] {
                    try await client.send(.purgeData, [purge])
                    #expect(try await client.answer(.purgeData).value == [purge])
                }
                try await client.send(.setLineStateMask, [0x60])
                #expect(try await client.answer(.setLineStateMask).value == [0x60])
                try await client.send(.notifyLineState)
                #expect(try await client.answer(.notifyLineState).value == [0x60])

                // The modem still takes commands through all of it.
                #expect(try await client.command("ATE0") == "ATE0\r\r\nOK\r\n")
                #expect(modem.events.contains("rfc2217 negotiated"))
            }
        }
    }

    @Test("DCD after CONNECT; SET-CONTROL DTR off: NO CARRIER, DCD cleared; a speed set meanwhile keeps DTR down")
    func dtrAndCarrier() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem, .rfc2217) { server in
                let client = try await NetworkClient(port: server.port, telnet: true)
                try await client.negotiateComPort()
                #expect(try await client.answer(.notifyModemState).byte == Line.dsr | Line.cts)
                try await client.command("ATDT5551234", expect: "CONNECT 115200\r\n")
                #expect(try await client.modemState { $0 & Line.dcd != 0 } == Line.dcd | Line.dsr | Line.cts | Line.deltaDCD)

                let mark = modem.transcriptMark
                try await client.send(.setControl, [ComPort.Control.dtrOff.rawValue])
                #expect(try await client.answer(.setControl).value == [ComPort.Control.dtrOff.rawValue])
                try await client.read(until: "NO CARRIER\r\n")
                #expect(try await client.modemState { $0 & Line.dcd == 0 } == Line.dsr | Line.cts | Line.deltaDCD)
                await modem.expectEvent("dtr-drop", after: mark)
                await modem.expectEvent("on-hook dtr", after: mark)
                #expect(modem.events(after: mark).first == "rfc2217 set-control dtr-off")
                #expect(!modem.status.isDTRRaised)

                // A speed change while DTR is down is remembered, not applied: the slave
                // stays at B0 (DTR down) until DTR is raised.
                try await client.send(.setBaudRate, ComPort.bytes(of: 19200))
                #expect(try await client.answer(.setBaudRate).number == 19200)
                try await client.send(.setControl, [ComPort.Control.requestDTR.rawValue])
                #expect(try await client.answer(.setControl).value == [ComPort.Control.dtrOff.rawValue])
                try await Task.sleep(for: .milliseconds(150))
                #expect(!modem.status.isDTRRaised)
                #expect(!modem.events(after: mark).contains("dtr-raise"))

                try await client.send(.setControl, [ComPort.Control.dtrOn.rawValue])
                #expect(try await client.answer(.setControl).value == [ComPort.Control.dtrOn.rawValue])
                await modem.expectEvent("dtr-raise", after: mark)
                await modem.expectEvent("line-settings speed=19200", after: mark)
                #expect(try await client.command("AT") == "AT\r\r\nOK\r\n")
            }
        }
    }

    @Test("A call from another modem: RI while it rings, its trailing edge on ATA, DCD; IAC doubled in data both ways")
    func ringAndData() async throws {
        try await withBank(count: 2) { bank in
            let (caller, callee) = (bank.modems[0], bank.modems[1])
            try await withFrontEnd(callee, .rfc2217) { server in
                let client = try await NetworkClient(port: server.port, telnet: true)
                try await client.negotiateComPort()
                #expect(try await client.answer(.notifyModemState).byte == Line.dsr | Line.cts)
                try await client.command("ATE0")
                let local = try ModemClient(caller)
                try await local.command("ATE0")
                try await local.send("ATD1001\r")
                try await client.read(until: "RING\r\n")
                // RI on: RFC 2217's bit 2 is the trailing edge, so no delta yet.
                #expect(try await client.modemState { $0 & Line.ri != 0 } == Line.ri | Line.dsr | Line.cts)
                try await client.command("ATA", expect: "CONNECT 33600\r\n")
                try await local.read(until: "CONNECT 33600\r\n")
                #expect(try await client.modemState { $0 & Line.ri == 0 } == Line.dsr | Line.cts | Line.trailingRI)
                #expect(try await client.modemState { $0 & Line.dcd != 0 } == Line.dcd | Line.dsr | Line.cts | Line.deltaDCD)

                // Client to line: IAC IAC on the wire is one 0xFF for the modem.
                try await client.send([0x41, 0xFF, 0xFF, 0x42, 0x0D, 0x00, 0x43])
                #expect(try await local.readBytes(until: [0x43]) == [0x41, 0xFF, 0x42, 0x0D, 0x00, 0x43])
                // Line to client: a 0xFF goes out doubled, and BINARY leaves CR alone.
                try await local.send(bytes: [0xFF, 0x44, 0x0D, 0x45, 0xFF])
                #expect(try await client.readBytes(until: [0x45, 0xFF]) == [0xFF, 0x44, 0x0D, 0x45, 0xFF])
                #expect(client.wire.firstRange(of: [0xFF, 0xFF, 0x44, 0x0D, 0x45, 0xFF, 0xFF]) != nil)
            }
        }
    }

    @Test("SET-MODEMSTATE-MASK: only the lines asked for, masked; a poll answers the masked state")
    func modemStateMask() async throws {
        try await withBank { bank in
            try await withFrontEnd(bank.modems[0], .rfc2217) { server in
                let client = try await NetworkClient(port: server.port, telnet: true)
                try await client.negotiateComPort()
                #expect(try await client.answer(.notifyModemState).byte == Line.dsr | Line.cts)
                try await client.send(.setModemStateMask, [Line.dcd | Line.deltaDCD])
                #expect(try await client.answer(.setModemStateMask).value == [Line.dcd | Line.deltaDCD])
                try await client.command("ATDT5551234", expect: "CONNECT 115200\r\n")
                #expect(try await client.answer(.notifyModemState).byte == Line.dcd | Line.deltaDCD)
                try await client.send(.notifyModemState)
                #expect(try await client.answer(.notifyModemState).byte == Line.dcd)
            }
        }
    }

    @Test("The modem is unplugged: the client is told its lines dropped, then the connection closes")
    func unplugged() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            try await withFrontEnd(modem, .rfc2217) { server in
                let client = try await NetworkClient(port: server.port, telnet: true)
                try await client.negotiateComPort()
                #expect(try await client.answer(.notifyModemState).byte == Line.dsr | Line.cts)
                try await client.command("AT")
                modem.unplug()
                #expect(try await client.modemState { $0 & Line.dsr == 0 } == Line.deltaDSR | Line.deltaCTS)
                #expect(try await client.waitForClose())
                await modem.expectEvent("network-disconnect 127.0.0.1:")
                #expect(modem.events.contains { $0.hasPrefix("network-disconnect") && $0.hasSuffix("modem hung up the port") })
            }
        }
    }
}

@Suite("The fakemodem executable on the network")
struct NetworkExecutableTests {
    static let python = "/usr/bin/python3"

    /// Whether python3 with pyserial's RFC 2217 client is installed (python3-serial).
    static let hasPySerial: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import serial.rfc2217"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Dials `url` with pyserial's RFC 2217 client and prints what it saw, one fact a line.
    static let pySerialScript = #"""
        import sys, time, serial
        s = serial.serial_for_url(sys.argv[1], timeout=0.2)
        def until(token, seconds=5):
            data = b''
            end = time.time() + seconds
            while token not in data and time.time() < end:
                data += s.read(64)
            return data
        def wait(condition, seconds=5):
            end = time.time() + seconds
            while not condition() and time.time() < end:
                time.sleep(0.02)
        s.write(b'ATZ\r'); print('ATZ', until(b'OK\r\n').endswith(b'OK\r\n'))
        print('idle cd=%s dsr=%s cts=%s ri=%s' % (s.cd, s.dsr, s.cts, s.ri))
        s.write(b'ATDT5551234\r'); print('dial', until(b'CONNECT 115200\r\n').endswith(b'CONNECT 115200\r\n'))
        wait(lambda: s.cd); print('online cd=%s' % s.cd)
        s.write(b'\xff\x00\xffA'); print('loopback', until(b'\xffA') == b'\xff\x00\xffA')
        s.dtr = False
        wait(lambda: not s.cd); print('dtr off cd=%s' % s.cd)
        print('hung up', until(b'NO CARRIER\r\n').endswith(b'NO CARRIER\r\n'))
        s.dtr = True
        s.write(b'AT\r'); print('AT', until(b'OK\r\n').endswith(b'OK\r\n'))
        s.close()
        """#

    @Test("--listen … --rfc2217: the ready line names the URL; pyserial's RFC 2217 client sees DCD, and DTR off hangs up",
          .enabled(if: NetworkExecutableTests.hasPySerial, "skipped: /usr/bin/python3 with pyserial is not installed (apt-get install python3-serial)"))
    func pySerialDials() async throws {
        let folder = try TestSupport.temporaryDirectory("fakemodem-net")
        defer { TestSupport.remove(folder) }
        let log = folder.appendingPathComponent("modem.log").path
        let child = try Child(try BuiltExecutable.fakemodem(), ["--listen", "tcp://127.0.0.1:0", "--rfc2217", "--transcript", log])
        let ready = try #require(await child.lines(1).first, "no ready line; stderr: \(child.standardError)")
        let match = try #require(ready.wholeMatch(of: /ready (\/dev\/pts\/\d+) rfc2217:\/\/127\.0\.0\.1:(\d+)/), "\(ready)")
        let url = "rfc2217://127.0.0.1:\(match.2)"

        let python = try Child(URL(fileURLWithPath: Self.python), ["-c", Self.pySerialScript, url])
        #expect(await python.exitStatus(timeout: .seconds(30)) == 0, "pyserial said: \(python.standardError)")
        #expect(python.standardOutput.split(separator: "\n") == [
            "ATZ True", "idle cd=False dsr=True cts=True ri=False", "dial True", "online cd=True", "loopback True",
            "dtr off cd=False", "hung up True", "AT True",
        ], "stdout: \(python.standardOutput) stderr: \(python.standardError)")

        child.process.terminate()
        #expect(await child.exitStatus() == 0)
        let transcript = try String(contentsOfFile: log, encoding: .utf8)
        for event in ["-- network-connect 127.0.0.1:", "-- rfc2217 set-baudrate 9600\n", "-- rfc2217 set-control dtr-off\n",
                      "-- on-hook dtr\n", "-- rfc2217 set-control dtr-on\n", "-- network-disconnect 127.0.0.1:"] {
            #expect(transcript.contains(event), "\(event) missing from:\n\(transcript)")
        }
    }

    @Test("--count 2 --listen tcp://…:0: a URL per modem; SIGTERM with a client connected closes it and exits 0")
    func severalModemsAndSIGTERM() async throws {
        let child = try Child(try BuiltExecutable.fakemodem(), ["--count", "2", "--listen", "tcp://127.0.0.1:0"])
        let lines = await child.lines(2)
        #expect(lines.count == 2, "stdout: \(child.standardOutput) stderr: \(child.standardError)")
        let ports = lines.compactMap { line in line.wholeMatch(of: /ready \/dev\/pts\/\d+ tcp:\/\/127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) } }
        #expect(ports.count == 2 && ports[0] != ports[1], "\(lines)")
        let port = try #require(ports.last)
        let client = try await NetworkClient(port: port)
        #expect(try await client.command("ATI3") == "ATI3\r\r\nFakeModem V1.0\r\n\r\nOK\r\n")
        child.process.terminate()
        #expect(await child.exitStatus() == 0)
        #expect(try await client.waitForClose())
    }

    @Test("--listen with a fixed port: modem i on PORT+i; a port in use exits 1 naming it, the others closed again")
    func fixedPortInUse() async throws {
        // Modem 0 gets the port below the one held, modem 1 the one held.
        let holder = try TCPListener(host: "127.0.0.1", port: 0)
        defer { holder.close() }
        let child = try Child(try BuiltExecutable.fakemodem(), ["--count", "2", "--listen", "tcp://127.0.0.1:\(holder.port - 1)"])
        #expect(await child.exitStatus() == 1)
        #expect(child.standardError.contains("fakemodem: cannot listen on 127.0.0.1:\(holder.port): "), "\(child.standardError)")
        #expect(child.standardOutput.isEmpty)
    }

    @Test("A bad --listen URL, or --rfc2217 alone: a usage error (exit 64) saying why", arguments: [
        (["--listen", "127.0.0.1:5000"], "--listen: expected tcp://HOST:PORT"),
        (["--listen", "tcp://127.0.0.1:99999"], "--listen: expected tcp://HOST:PORT"),
        (["--listen", "tcp://127.0.0.1:65535", "--count", "2"], "go past 65535"),
        (["--rfc2217"], "--rfc2217 needs --listen"),
    ])
    func badListen(_ arguments: [String], _ message: String) async throws {
        let child = try Child(try BuiltExecutable.fakemodem(), arguments)
        #expect(await child.exitStatus() == 64)
        #expect(child.standardError.contains(message), "\(child.standardError)")
        #expect(child.standardOutput.isEmpty)
    }
}
