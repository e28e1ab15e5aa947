import FakeModem
import Foundation
import Hayes
import RAS
import Serial
import SystemIO
import Testing
import TestSupport

@Suite("ConnectionManager against fake modems on ptys")
struct ConnectionManagerTests {
    @Test("a plain dial walks 0→1→2→3→4→Connected, lists, and hangs up following RAS")
    func happyPath() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(
            delay: .milliseconds(50), progress: [ProgressLine("CARRIER 33600"), ProgressLine("PROTOCOL: LAPM"), ProgressLine("COMPRESSION: V42BIS")],
            kind: .connect(ConnectSpec(result: ResultCode(text: "CONNECT 115200/ARQ/V42BIS", code: 1)))))
        let (handle, seen) = try await lab.dial("555-1234")
        #expect(seen.map(\.state) == [.openPort, .portOpened, .connectDevice, .deviceConnected, .allDevicesConnected, .connected])
        #expect(seen.allSatisfy { $0.error == nil && $0.handle == handle })

        let status = try await lab.manager.connectStatus(handle)
        #expect(status.state == .connected)
        #expect(status.error == nil)
        #expect(status.entryName == ".555-1234")
        #expect(status.phoneNumber == "555-1234")
        #expect(status.deviceType == .modem)
        #expect(status.deviceName == SerialPort.canonicalPath(lab.port()))
        #expect(status.connectRate == 115200)
        #expect(status.connectProtocol == "ARQ/V42BIS")
        #expect(status.connectDetails?.carrierRate == 33600)
        #expect(status.connectDetails?.errorControl == "LAPM")
        #expect(status.connectDetails?.compression == "V42BIS")
        #expect(lab.bank.modems[0].isOffHook)

        let listed = try await lab.manager.enumConnections()
        #expect(listed.map(\.handle) == [handle])
        #expect(listed.first?.entryName == ".555-1234")

        let mark = lab.bank.modems[0].transcriptMark
        try await lab.manager.hangUp(handle)
        try await lab.manager.hangUp(handle)  // twice is harmless
        #expect(await lab.waitUntilGone(handle) != nil)
        #expect(!lab.bank.modems[0].isOffHook, "the modem is on-hook once the handle is gone")
        #expect(lab.bank.modems[0].events(after: mark).contains { $0.hasPrefix("on-hook") })
        await #expect(throws: RasError.invalidHandle) { try await lab.manager.hangUp(handle) }
        #expect(try await lab.manager.enumConnections().isEmpty)
        await lab.finish()
    }

    static let failures: [(String, CallOutcome, UInt32)] = [
        ("BUSY", .result(.busy, delay: .milliseconds(20)), 676),
        ("NO ANSWER", .result(.noAnswer, delay: .milliseconds(20)), 678),
        ("NO CARRIER", .result(.noCarrier, delay: .milliseconds(20)), 679),
        ("NO DIALTONE", .result(.noDialtone, delay: .milliseconds(20)), 680),
        ("ERROR", .result(.error, delay: .milliseconds(20)), 651),
        ("VOICE", .result(ResultCode(text: "VOICE", code: 1), delay: .milliseconds(20)), 677),
        ("an unrecognised final line", .result(ResultCode(text: "FROBNICATED 42", code: 99), delay: .milliseconds(20)), 652),
        ("silence until the dial deadline", CallOutcome(kind: .silence), 678),
    ]

    @Test("every modem failure ends in Disconnected with its RAS error, and the handle stays until hung up",
          arguments: 0..<failures.count)
    func failedDialKeepsHandle(index: Int) async throws {
        let (label, outcome, code) = Self.failures[index]
        let lab = try await ModemLab(otherwise: outcome)
        let dial = try await lab.manager.dial(.entry("Fail", phonebookPath: try Self.phonebook(port: lab.port(), dialTimeout: 2)))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.last?.state == .disconnected, "\(label)")
        #expect(seen.last?.error?.code == code, "\(label): \(String(describing: seen.last?.error))")
        #expect(seen.dropLast().last?.state == .connectDevice, "the failing state is re-reported with the error")
        #expect(seen.dropLast().last?.error?.code == code)

        // The RAS rule: a failed dial keeps its handle, status Disconnected + error.
        try await Task.sleep(for: .milliseconds(100))
        let status = try await lab.manager.connectStatus(dial.handle)
        #expect(status.state == .disconnected)
        #expect(status.error?.code == code)
        #expect(try await lab.manager.enumConnections().map(\.handle) == [dial.handle])
        #expect(!lab.bank.modems[0].isOffHook, "\(label): the modem is on-hook after a failed dial")
        #expect(try await lab.hangUpAndWait(dial.handle) != nil)
        await lab.finish()
    }

    @Test("a modem that answers nothing is 666; a missing device 608; a port another process locked 633 naming it")
    func portAndModemFailures() async throws {
        let silent = try await ModemLab(modem: ModemLab.modem(FaultSet(droppedFirstLines: 1000)))
        let (h1, s1) = try await silent.dial("5551234")
        #expect(s1.last?.error?.code == 666)
        try await silent.hangUpAndWait(h1)
        await silent.finish()

        let lab = try await ModemLab()
        let (h2, s2) = try await { () async throws -> (RasConnectionHandle, [RasDialNotification]) in
            let dial = try await lab.manager.dial(.number("5551234", device: "/dev/nonexistent-modem"))
            return (dial.handle, await ModemLab.collect(dial.notifications))
        }()
        #expect(s2.map(\.state) == [.openPort, .openPort, .disconnected])
        #expect(s2.last?.error?.code == 608)
        try await lab.hangUpAndWait(h2)

        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let lockFile = lab.lockDirectory.appendingPathComponent(UUCPLock.lockName(for: lab.port())).path
        try String(format: "%10d\n", sleeper.processIdentifier).write(toFile: lockFile, atomically: true, encoding: .ascii)
        let (h3, s3) = try await lab.dial("5551234")
        #expect(s3.last?.error?.code == 633)
        #expect(s3.last?.error?.detail?.contains("process \(sleeper.processIdentifier)") == true)
        try await lab.hangUpAndWait(h3)
        #expect(FileManager.default.fileExists(atPath: lockFile), "another process's live lock is left alone")
        try FileManager.default.removeItem(atPath: lockFile)

        // A stale lock (its process is gone) is reclaimed.
        try String(format: "%10d\n", Int32.max - 7).write(toFile: lockFile, atomically: true, encoding: .ascii)
        let (h4, s4) = try await lab.dial("5551234")
        #expect(s4.last?.state == .connected)
        try await lab.hangUpAndWait(h4)
        await lab.finish()
    }

    @Test("two dials on one port: 602; one entry dialed twice while dialing: 756")
    func portAlreadyOpenAndDialInProgress() async throws {
        let lab = try await ModemLab(otherwise: .connect("CONNECT 2400", delay: .milliseconds(400)))
        let pbk = try Self.phonebook(port: lab.port())
        let first = try await lab.manager.dial(.entry("Fail", phonebookPath: pbk))
        await #expect(throws: RasError.dialAlreadyInProgress) {
            _ = try await lab.manager.dial(.entry("fail", phonebookPath: pbk))
        }
        await #expect(throws: RasError.portAlreadyOpen) {
            _ = try await lab.manager.dial(.number("5550000", device: lab.port()))
        }
        let seen = await ModemLab.collect(first.notifications)
        #expect(seen.last?.state == .connected)
        // Dialing a connected entry answers with that connection.
        let again = try await lab.manager.dial(.entry("FAIL", phonebookPath: pbk))
        #expect(again.handle == first.handle)
        try await lab.hangUpAndWait(first.handle)
        await lab.finish()
    }

    @Test("entry-less dials of one number on two modems are two connections; on the same modem, one")
    func entrylessSameNumber() async throws {
        let lab = try await ModemLab(otherwise: .connect("CONNECT 2400", delay: .milliseconds(400)), count: 2)
        let first = try await lab.manager.dial(.number("5551234", device: lab.port(0)))
        let second = try await lab.manager.dial(.number("5551234", device: lab.port(1)))
        #expect(first.handle != second.handle)
        // The same number on the same modem while it is being dialed: that dial is in progress.
        await #expect(throws: RasError.dialAlreadyInProgress) {
            _ = try await lab.manager.dial(.number("5551234", device: lab.port(0)))
        }
        #expect(await ModemLab.collect(first.notifications).last?.state == .connected)
        #expect(await ModemLab.collect(second.notifications).last?.state == .connected)
        let listed = try await lab.manager.enumConnections()
        #expect(listed.map(\.entryName) == [".5551234", ".5551234"])
        #expect(Set(listed.map(\.deviceName)) == Set([lab.port(0), lab.port(1)].map(SerialPort.canonicalPath)))
        // Dialing a connected call again answers with it, as for an entry.
        #expect(try await lab.manager.dial(.number("5551234", device: lab.port(1))).handle == second.handle)
        // The name hangs up every connection that has it.
        #expect(try await lab.manager.hangUp(entryName: ".5551234") == [first.handle, second.handle])
        #expect(await lab.waitUntilGone(first.handle) != nil)
        #expect(await lab.waitUntilGone(second.handle) != nil)
        #expect(lab.bank.modems.allSatisfy { !$0.isOffHook })
        await lab.finish()
    }

    @Test("hang-up while dialing aborts the dial; the modem goes on-hook")
    func hangUpWhileDialing() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(kind: .silence))
        let dial = try await lab.manager.dial(.number("5551234", device: lab.port()))
        #expect(await TestSupport.eventually { lab.bank.modems[0].isOffHook })
        let took = try await lab.hangUpAndWait(dial.handle)
        #expect(took != nil)
        #expect(!lab.bank.modems[0].isOffHook)
        #expect(lab.bank.modems[0].events.contains { $0.hasPrefix("on-hook") })
        await lab.finish()
    }

    @Test("hang-up while waiting to redial, and redial until the attempts run out")
    func redial() async throws {
        let lab = try await ModemLab(otherwise: .result(.busy, delay: .milliseconds(20)))
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        try """
        [Busy]
        Port=\(lab.port())
        PhoneNumber=5551234
        RedialAttempts=2
        RedialSeconds=0
        """.write(toFile: pbk, atomically: true, encoding: .utf8)
        let dial = try await lab.manager.dial(.entry("Busy", phonebookPath: pbk))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.filter { $0.state == .connectDevice && $0.error == nil }.count == 3, "three attempts: \(seen)")
        #expect(seen.last?.error?.code == 676)
        #expect(seen.last?.error?.detail?.contains("attempt 3 of 3") == true)
        #expect(lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }.count == 3)
        try await lab.hangUpAndWait(dial.handle)

        try """
        [Busy]
        Port=\(lab.port())
        PhoneNumber=5551234
        RedialAttempts=5
        RedialSeconds=30
        """.write(toFile: pbk, atomically: true, encoding: .utf8)
        let waiting = try await lab.manager.dial(.entry("Busy", phonebookPath: pbk))
        #expect(await TestSupport.eventually { lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }.count == 4 })
        try await Task.sleep(for: .milliseconds(100))
        let took = try await lab.hangUpAndWait(waiting.handle)
        #expect(took.map { $0 < .seconds(5) } == true, "the redial timer does not hold up the hang-up")
        TestSupport.remove(dir)
        await lab.finish()
    }

    @Test("carrier lost while connected: Disconnected 629, the handle stays until hung up")
    func carrierLost() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 9600", code: 1), carrierDropAfter: .milliseconds(300)))))
        let dial = try await lab.manager.dial(.number("5551234", device: lab.port()))
        var states: [RasDialNotification] = []
        for await notification in dial.notifications {
            states.append(notification)
            if notification.state == .disconnected { break }
        }
        #expect(states.last?.error?.code == 629)
        let status = try await lab.manager.connectStatus(dial.handle)
        #expect(status.state == .disconnected && status.error == .remoteDisconnection)
        try await lab.hangUpAndWait(dial.handle)
        await lab.finish()
    }

    @Test("IdleDisconnectSeconds: a silent line is hung up with 828 and the modem goes on-hook")
    func idleDisconnect() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 9600", code: 1), data: .silent))))
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        try "[Idle]\nPort=\(lab.port())\nPhoneNumber=5551234\nIdleDisconnectSeconds=1\n".write(toFile: pbk, atomically: true, encoding: .utf8)
        let dial = try await lab.manager.dial(.entry("Idle", phonebookPath: pbk))
        var seen: [RasDialNotification] = []
        for await notification in dial.notifications {
            seen.append(notification)
            if notification.state == .disconnected { break }
        }
        #expect(seen.contains { $0.state == .connected })
        #expect(seen.last?.error?.code == 828)
        #expect(await TestSupport.eventually { !lab.bank.modems[0].isOffHook }, "the release hung the modem up")
        #expect(try await lab.manager.connectStatus(dial.handle).error == .idleTimeout)
        try await lab.hangUpAndWait(dial.handle)
        TestSupport.remove(dir)
        await lab.finish()
    }

    @Test("the modem unplugged mid-call: Disconnected 630, no hang, nothing leaked")
    func unplugMidCall() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 9600", code: 1), unplugAfter: .milliseconds(300)))))
        let dial = try await lab.manager.dial(.number("5551234", device: lab.port()))
        var last: RasDialNotification?
        for await notification in dial.notifications {
            last = notification
            if notification.state == .disconnected { break }
        }
        #expect(last?.error?.code == 630)
        #expect(try await lab.manager.connectStatus(dial.handle).error == .hardwareFailure)
        try await lab.hangUpAndWait(dial.handle)
        #expect(await lab.manager.shutdown(timeout: .seconds(5)))
        let locks = try FileManager.default.contentsOfDirectory(atPath: lab.lockDirectory.path)
        #expect(locks.isEmpty)
        await lab.bank.stop()
    }

    @Test("a modem that ignores DTR is hung up with +++ and ATH")
    func ignoresDTR() async throws {
        let lab = try await ModemLab(modem: ModemLab.modem(FaultSet(ignoresDTR: true)))
        let (handle, seen) = try await lab.dial("5551234")
        #expect(seen.last?.state == .connected)
        let mark = lab.bank.modems[0].transcriptMark
        #expect(try await lab.hangUpAndWait(handle) != nil)
        let events = lab.bank.modems[0].events(after: mark)
        #expect(events.contains { $0.hasPrefix("escape") }, "\(events)")
        #expect(events.contains { $0 == "on-hook ATH" }, "\(events)")
        #expect(!lab.bank.modems[0].isOffHook)
        await lab.finish()
    }

    @Test("a modem that ignores DTR and ATH: the ladder ends in a HUPCL close and the port is released")
    func ignoresDTRAndATH() async throws {
        let lab = try await ModemLab(modem: ModemLab.modem(FaultSet(ignoresDTR: true, ignoresHangUp: true)))
        let (handle, seen) = try await lab.dial("5551234")
        #expect(seen.last?.state == .connected)
        let mark = lab.bank.modems[0].transcriptMark
        #expect(try await lab.hangUpAndWait(handle) != nil)
        // The modem's sampler notices the close a moment after the handle is gone.
        let closed = await lab.bank.modems[0].waitForEvent("slave-closed", after: mark, timeout: .seconds(5))
        #expect(closed == "slave-closed hupcl=yes", "closed with HUPCL: \(lab.bank.modems[0].events(after: mark))")
        await lab.finish()
    }

    @Test("line noise, duplicated and slow results, stuck echo: the dial still connects", arguments: [
        FaultSet(noise: LineNoise(rate: 1, seed: 7)),
        FaultSet(duplicateResults: true),
        FaultSet(slowResponses: .milliseconds(150)),
        FaultSet(stuckEcho: true),
        FaultSet(droppedFirstLines: 1),
        FaultSet(omitsLeadingCRLF: true),
        FaultSet(spuriousRingInterval: .milliseconds(30)),
    ])
    func survivesFaults(faults: FaultSet) async throws {
        let lab = try await ModemLab(modem: ModemLab.modem(faults))
        let (handle, seen) = try await lab.dial("5551234")
        #expect(seen.last?.state == .connected, "\(seen)")
        #expect(try await lab.manager.connectStatus(handle).connectRate == 33600)
        try await lab.hangUpAndWait(handle)
        await lab.finish()
    }

    @Test("a modem set to numeric results (V0) is read correctly")
    func numericModem() async throws {
        let lab = try await ModemLab(otherwise: .connect("CONNECT 2400", delay: .milliseconds(20)), modem: ModemLab.modem(profile: "V0"))
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        try "[Numeric]\nPort=\(lab.port())\nPhoneNumber=5551234\nInitString=ATE0 V0 X4 &D2\n".write(toFile: pbk, atomically: true, encoding: .utf8)
        let dial = try await lab.manager.dial(.entry("Numeric", phonebookPath: pbk))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.last?.state == .connected, "\(seen)")
        #expect(try await lab.manager.connectStatus(dial.handle).connectRate == 2400)
        try await lab.hangUpAndWait(dial.handle)
        TestSupport.remove(dir)
        await lab.finish()
    }

    @Test("connection events: connected, disconnected, removed — for any handle")
    func connectionEvents() async throws {
        let lab = try await ModemLab()
        let events = try await lab.manager.connectionEvents()
        let (handle, _) = try await lab.dial("5551234")
        try await lab.hangUpAndWait(handle)
        var kinds: [RasConnectionEvent.Kind] = []
        for await event in events {
            #expect(event.connection.handle == handle)
            kinds.append(event.kind)
            if event.kind == .removed { break }
        }
        #expect(kinds == [.connected, .disconnected, .removed])
        await lab.finish()
    }

    @Test("handles are never reused; another user may not hang up")
    func handlesAndOwners() async throws {
        let lab = try await ModemLab()
        var handles: [RasConnectionHandle] = []
        for _ in 0..<3 {
            let (handle, _) = try await lab.dial("5551234")
            await #expect(throws: RasError.accessDenied) { try await lab.manager.hangUp(handle, caller: ProcessIdentity.userID + 4242) }
            try await lab.manager.hangUp(handle, caller: 0)
            await lab.waitUntilGone(handle)
            handles.append(handle)
        }
        #expect(Set(handles).count == 3)
        #expect(handles == handles.sorted())
        await lab.finish()
    }

    @Test("hang up by entry name; a name with no connection is 6, like a handle with none")
    func hangUpByName() async throws {
        let lab = try await ModemLab()
        let (handle, _) = try await lab.dial("5551234")
        await #expect(throws: RasError.invalidHandle) { _ = try await lab.manager.hangUp(entryName: "Nope") }
        #expect(try await lab.manager.hangUp(entryName: ".5551234") == [handle])
        await lab.waitUntilGone(handle)
        await #expect(throws: RasError.invalidHandle) { _ = try await lab.manager.hangUp(entryName: ".5551234") }
        await #expect(throws: RasError.invalidHandle) { try await lab.manager.hangUp(handle) }
        await lab.finish()
    }

    @Test("bad input is refused before a port is touched: number, entry name, phonebook")
    func badInput() async throws {
        let lab = try await ModemLab()
        await #expect(throws: RasError.badPhoneNumber) { _ = try await lab.manager.dial(.number("555\rATH", device: lab.port())) }
        await #expect(throws: RasError.badPhoneNumber) { _ = try await lab.manager.dial(.number("555+++", device: lab.port())) }
        await #expect(throws: RasError.invalidParameter) { _ = try await lab.manager.dial(.number("", device: lab.port())) }
        await #expect(throws: RasError.invalidName) { _ = try await lab.manager.dial(.entry("a|b")) }
        await #expect(throws: RasError.cannotOpenPhonebook) { _ = try await lab.manager.dial(.entry("X", phonebookPath: "/nonexistent.pbk")) }
        let pbk = try Self.phonebook(port: lab.port())
        await #expect(throws: RasError.cannotFindPhonebookEntry) { _ = try await lab.manager.dial(.entry("Other", phonebookPath: pbk)) }
        #expect(try await lab.manager.enumConnections().isEmpty)
        #expect(lab.bank.modems[0].events.allSatisfy { !$0.hasPrefix("slave-open") }, "the port was never opened")
        await lab.finish()
    }

    @Test("dial-string errors name the part that is wrong (number or DialPrefix) and a 1-based position in it")
    func dialStringErrors() async throws {
        let lab = try await ModemLab()
        func refusal(_ parameters: RasDialParameters) async -> RasError? {
            do {
                _ = try await lab.manager.dial(parameters)
                return nil
            } catch {
                return error
            }
        }
        let number = await refusal(.number("5551234;H", device: lab.port()))
        #expect(number?.code == 749)
        #expect(number?.detail?.hasPrefix("'5551234;H': dial string has invalid character 'H' (U+0048) at position 9;") == true,
                "\(String(describing: number))")
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        func entry(prefix: String, number: String) throws {
            try "[Work]\nPort=\(lab.port())\nPhoneNumber=\(number)\nDialPrefix=\(prefix)\n"
                .write(toFile: pbk, atomically: true, encoding: .utf8)
        }
        try entry(prefix: "ATDT;H", number: "5551234")
        let prefix = await refusal(.entry("Work", phonebookPath: pbk))
        #expect(prefix?.code == 625)
        #expect(prefix?.detail?.hasPrefix("\(pbk), line 4: entry 'Work': DialPrefix 'ATDT;H': dial string has invalid character 'H' (U+0048) at position 6;") == true,
                "\(String(describing: prefix))")
        try entry(prefix: "ATDT;", number: "5551234")
        #expect(await refusal(.entry("Work", phonebookPath: pbk))?.detail?.hasSuffix(
            "DialPrefix 'ATDT;': ';' at position 5 would end the dial before the number") == true)
        try entry(prefix: "ATDT9,", number: "555x")
        let inNumber = await refusal(.entry("Work", phonebookPath: pbk))
        #expect(inNumber?.code == 749)
        #expect(inNumber?.detail?.hasPrefix("'555x': dial string has invalid character 'x' (U+0078) at position 4;") == true,
                "\(String(describing: inNumber))")
        try entry(prefix: "ATDT9,", number: String(repeating: "5", count: 34))
        let together = await refusal(.entry("Work", phonebookPath: pbk))
        #expect(together?.code == 749)
        #expect(together?.detail?.contains("(DialPrefix and number): dial string has 37 dial characters") == true,
                "\(String(describing: together))")
        #expect(try await lab.manager.enumConnections().isEmpty)
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("slave-open") })
        TestSupport.remove(dir)
        await lab.finish()
    }

    @Test("a good entry dials although another entry of its phonebook is corrupt; the corrupt one is 625")
    func corruptNeighbour() async throws {
        let lab = try await ModemLab()
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        try """
        [Evil]
        Port=\(lab.port())
        PhoneNumber=5551234
        InitString=ATDT19005551234
        [Work]
        Port=\(lab.port())
        PhoneNumber=5551234
        """.write(toFile: pbk, atomically: true, encoding: .utf8)
        let listing = try await lab.manager.entryListing(phonebookPath: pbk)
        #expect(listing.entries.map(\.name) == ["Work"])
        #expect(listing.problems.map(\.name) == ["Evil"])
        #expect(try await lab.manager.enumEntries(phonebookPath: pbk).map(\.name) == ["Work"])
        await #expect(throws: RasError.corruptPhonebook) { _ = try await lab.manager.dial(.entry("Evil", phonebookPath: pbk)) }
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("slave-open") })
        let dial = try await lab.manager.dial(.entry("Work", phonebookPath: pbk))
        #expect(await ModemLab.collect(dial.notifications).last?.state == .connected)
        #expect(!lab.bank.modems[0].events.contains { $0.contains("1900") }, "the bad init string never reached the modem")
        try await lab.hangUpAndWait(dial.handle)
        TestSupport.remove(dir)
        await lab.finish()
    }

    @Test("an entry whose InitString dials fails with 625 before the port is opened", arguments: [
        ("InitString=ATZ\nInitString=ATDT19005551234", 5, "InitString 'ATDT19005551234': the D command at position 3 dials"),
        ("InitString=AT&D2 S7=60;DT5551234", 4, "InitString 'AT&D2 S7=60;DT5551234': the D command at position 13 dials"),
        ("InitString=ATE0 H1", 4, "InitString 'ATE0 H1': the H1 command at position 6 goes off-hook"),
    ])
    func initStringThatDials(lines: String, line: Int, problem: String) async throws {
        let lab = try await ModemLab()
        let dir = try TestSupport.temporaryDirectory("pbk")
        let pbk = dir.appendingPathComponent("rasphone.pbk").path
        try "[Work]\nPort=\(lab.port())\nPhoneNumber=5551234\n\(lines)\n".write(toFile: pbk, atomically: true, encoding: .utf8)
        do {
            _ = try await lab.manager.dial(.entry("Work", phonebookPath: pbk))
            Issue.record("the dial was accepted")
        } catch {
            #expect(error.code == 625)
            #expect(error.detail == "\(pbk), line \(line): entry 'Work': \(problem); "
                + "init strings may not dial, answer, go online or go off-hook")
        }
        #expect(try await lab.manager.enumConnections().isEmpty, "no connection is left")
        let events = lab.bank.modems[0].events
        #expect(!events.contains { $0.hasPrefix("slave-open") || $0.hasPrefix("dial") || $0.hasPrefix("off-hook") }, "\(events)")
        TestSupport.remove(dir)
        await lab.finish()
    }

    /// A phonebook with one entry `Fail` on `port`.
    static func phonebook(port: String, dialTimeout: Int = 10) throws -> String {
        let dir = try TestSupport.temporaryDirectory("pbk")
        let path = dir.appendingPathComponent("rasphone.pbk").path
        try """
        ; test phonebook
        [Fail]
        MEDIA=serial
        Port=\(port)
        DEVICE=modem
        PhoneNumber=5551234
        DialTimeoutSeconds=\(dialTimeout)
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
