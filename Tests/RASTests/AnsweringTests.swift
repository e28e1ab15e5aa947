import FakeModem
import Foundation
import Hayes
import RAS
import Serial
import Synchronization
import SystemIO
import Testing
import TestSupport

/// Listening lines answering real (fake-modem) calls over ptys: caller ID in every form,
/// rings, the caller policy, the caller hanging up, failed answers, retention, re-arming,
/// and a modem unplugged and plugged back.
@Suite("Answering calls: the manager and the fake modem", .serialized)
struct AnsweringTests {
    typealias Caller = FakeModem.CallerID

    /// How each caller-ID form is produced: the entry's caller-ID command (none: the vendor
    /// table's fallback, `AT+VCID=1`) and the form the call forces.
    static let forms: [(name: String, line: String?, command: String, form: CallerIDForm?, expected: Hayes.CallerID.Form?)] = [
        ("formatted", nil, "AT+VCID=1", nil, .formatted),
        ("clip", "CallerIDInit=AT+CLIP=1", "AT+CLIP=1", nil, .clip),
        ("sdmf", "CallerIDInit=AT#CID=2", "AT#CID=2", .sdmf, .sdmf),
        ("mdmf", "CallerIDInit=AT#CID=2", "AT#CID=2", nil, .mdmf),
        ("none", nil, "AT+VCID=1", CallerIDForm.none, nil),
    ]

    @Test("a call is answered as an incoming connection with its caller ID, walking ConnectDevice … Connected",
          arguments: forms.map(\.name))
    func answersWithCallerID(form name: String) async throws {
        guard let form = Self.forms.first(where: { $0.name == name }) else { return }
        let bench = try await ListenBench(form.line.map { [$0] } ?? [])
        try await bench.listenAndWait()
        #expect(bench.sent.contains("ATS0=0\r"), "the modem does not answer by itself")
        #expect(bench.sent.contains(form.command + "\r"), "caller ID turned on with \(form.command): \(bench.sent)")
        let ringing = ContinuousClock.now
        // SDMF carries no name.
        bench.ring(Caller(number: .number("5551234"), name: form.form == .sdmf ? nil : "JOHN DOE", form: form.form))
        let handle = try #require(await bench.answered())
        let notifications = try await bench.manager.notifications(for: handle)
        let walk = await ModemLab.collect(notifications)
        let connectedAt = Date()
        let elapsed = ringing.duration(to: .now)
        #expect(walk.map(\.state).suffix(3) == [.deviceConnected, .allDevicesConnected, .connected], "\(walk)")
        #expect([.connectDevice, .deviceConnected].contains(walk.first?.state))
        let status = try await bench.manager.connectStatus(handle)
        #expect(status.direction == .incoming && status.state == .connected && status.dataPath != nil)
        let listed = try #require(try await bench.manager.enumConnections().first { $0.handle == handle })
        #expect(listed.direction == .incoming && listed.entryName == "Line")
        if let expected = form.expected {
            #expect(listed.callerID?.number == "5551234" && listed.callerID?.form == expected, "\(String(describing: listed.callerID))")
            #expect(bench.lineEvents.contains { $0.kind == .callerID && $0.callerID?.number == "5551234" })
            if form.form != .sdmf { #expect(listed.callerID?.name == "JOHN DOE") }
        } else {
            #expect(listed.callerID == nil, "a call without caller ID is still a call")
        }
        let kinds = bench.lineEvents.map(\.kind)
        #expect(kinds.starts(with: [.listening, .ring]) && kinds.contains(.answer), "\(kinds)")
        #expect(bench.modem.events.contains("answer"))
        let transcript = bench.modem.transcript
        if let answer = transcript.firstIndex(where: { $0.event == "answer" }),
           let ring = transcript[..<answer].last(where: { $0.event?.hasPrefix("ring ") == true }),
           let connect = transcript[answer...].first(where: { $0.event?.hasPrefix("connect") == true }) {
            let ms = { (from: Date, to: Date) in Int(to.timeIntervalSince(from) * 1000) }
            print("""
                answering ring -> Connected (\(name)): \(ms(ring.date, connectedAt)) ms: \(ring.event ?? "") -> ATA \
                \(ms(ring.date, transcript[answer].date)) ms (caller ID wait), ATA -> CONNECT \(ms(transcript[answer].date, connect.date)) ms \
                (the modem's handshake), CONNECT -> Connected \(ms(connect.date, connectedAt)) ms; from the call's start \(elapsed.milliseconds) ms
                """)
        }

        // Hung up by a client: the modem goes on-hook and the line re-arms.
        try await bench.manager.hangUp(handle)
        let hungUp = ContinuousClock.now
        #expect(await bench.lab.waitUntilGone(handle) != nil)
        let rearm = await bench.waitForLine("idle")
        #expect(rearm != nil, "the line listens again")
        print("re-armed \(hungUp.duration(to: .now).milliseconds) ms after the hang-up request")
        #expect(bench.modem.isOffHook == false)
        await bench.finish()
    }

    @Test("AnswerAfterRings: ATA goes out on ring N, not before")
    func answerAfterRings() async throws {
        let bench = try await ListenBench(["AnswerAfterRings=3", "CallerIDInit=none"])
        try await bench.listenAndWait()
        #expect(!bench.sent.contains("CID"), "CallerIDInit=none turns nothing on")
        bench.ring()
        let handle = try #require(await bench.answered())
        // The answer event comes as the call is handed over; ATA reaches the modem just after.
        #expect(await bench.modem.waitForEvent("answer", timeout: .seconds(5)) != nil)
        let events = bench.modem.events
        let answerIndex = try #require(events.firstIndex(of: "answer"))
        #expect(events[..<answerIndex].filter { $0.hasPrefix("ring ") } == ["ring 1", "ring 2", "ring 3"], "\(events)")
        #expect(bench.lineEvents.first { $0.kind == .answer }?.rings == 3)
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        await bench.finish()
    }

    @Test("a rejected caller is never answered; the next, allowed caller is", arguments: [
        "RejectCallers=555*", "AllowCallers=+4930*,private",
    ])
    func rejectedCaller(policy: String) async throws {
        let bench = try await ListenBench([policy])
        try await bench.listenAndWait()
        bench.ring(Caller(number: .number("5551234")), rings: 3)
        guard case .listener(let rejection)? = await bench.waitFor({ $0.listenerKind == .reject }) else {
            Issue.record("no reject event: \(bench.lineEvents)")
            return
        }
        #expect(rejection.callerID?.number == "5551234" && rejection.reason?.isEmpty == false)
        #expect(await bench.waitForLine("idle", timeout: .seconds(8)) != nil, "the line waits again once the rings stopped")
        #expect(!bench.modem.events.contains("answer") && !bench.sent.contains("ATA"), "never answered")
        let mark = bench.events.count
        bench.ring(Caller(number: .private))
        let handle = try #require(await bench.answered(from: mark))
        #expect(policy.hasPrefix("RejectCallers") || true)
        #expect(try await bench.manager.connectStatus(handle).callerID?.numberAbsence == .private)
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        await bench.finish()
    }

    @Test("the caller hangs up: 629, listed until IncomingRetentionSeconds; the line re-arms within 1 s and takes the next call")
    func callerHangsUp() async throws {
        let bench = try await ListenBench(["IncomingRetentionSeconds=1"])
        try await bench.listenAndWait()
        bench.ring(hangUpAfter: .milliseconds(400))
        let first = try #require(await bench.answered())
        let notifications = await ModemLab.collect(try await bench.manager.notifications(for: first))
        #expect(notifications.last?.state == .connected)
        guard case .connection(let event)? = await bench.waitFor({ $0.connection?.0 == .disconnected }) else {
            Issue.record("no disconnected event")
            return
        }
        let ended = ContinuousClock.now
        #expect(event.connection.error == .remoteDisconnection && event.connection.direction == .incoming)
        #expect(await bench.waitForLine("idle") != nil)
        // Re-armed: from the caller's hang-up (the modem's on-hook) to the OK of the last init
        // command the line sent after it, read from the transcript.
        let transcript = bench.modem.transcript
        let onHook = try #require(transcript.firstIndex { $0.event?.hasPrefix("on-hook") == true })
        let lastSent = try #require(transcript.lastIndex { $0.direction == .fromComputer })
        let ok = try #require(transcript[lastSent...].first { $0.direction == .toComputer })
        let rearm = ok.date.timeIntervalSince(transcript[onHook].date)
        print("re-armed \(Int(rearm * 1000)) ms after the caller hung up (modem on-hook -> OK to the last init command)")
        #expect(rearm < 1, "ready for the next call within 1 s (\(rearm) s)")
        let status = try await bench.manager.connectStatus(first)
        #expect(status.state == .disconnected && status.error == .remoteDisconnection, "kept, with its error")
        #expect(await bench.lab.waitUntilGone(first, timeout: .seconds(5)) != nil, "gone after IncomingRetentionSeconds")
        #expect(ended.duration(to: .now) >= .milliseconds(900))
        let mark = bench.events.count
        bench.ring(Caller(number: .number("5550202")))
        let second = try #require(await bench.answered(from: mark))
        #expect(second != first, "a fresh handle")
        #expect(await ModemLab.collect(try await bench.manager.notifications(for: second)).last?.state == .connected)
        #expect(await TestSupport.eventually { await bench.manager.enumListeners().first?.callsTaken == 2 })
        #expect(try await bench.lab.hangUpAndWait(second) != nil)
        await bench.finish()
    }

    @Test("NO CARRIER instead of CONNECT (a ring with no call behind it) ends the answered call with 679; the line re-arms")
    func answerWithoutCarrier() async throws {
        var modem = ModemLab.modem(FaultSet(spuriousRingInterval: .milliseconds(500)))
        modem.registers[7] = 1
        let bench = try await ListenBench(["CallerIDInit=none"], modem: modem)
        try await bench.listenAndWait()
        let handle = try #require(await bench.answered())
        let walk = await ModemLab.collect(try await bench.manager.notifications(for: handle))
        #expect(walk.last?.state == .disconnected && walk.last?.error == .noCarrier, "\(walk)")
        #expect(await bench.waitForLine("idle") != nil)
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        await bench.finish()
    }

    @Test("the idle modem is initialised again every ListenRecheckSeconds")
    func recheck() async throws {
        let bench = try await ListenBench(["ListenRecheckSeconds=1"])
        try await bench.listenAndWait()
        let start = bench.modem.transcriptMark
        try await Task.sleep(for: .milliseconds(2300))
        let resets = bench.modem.transcript.dropFirst(start).filter {
            $0.direction == .fromComputer && String(decoding: $0.bytes, as: UTF8.self).hasPrefix("ATZ")
        }
        #expect((2...3).contains(resets.count), "ATZ every second: \(resets.count)")
        #expect(await bench.manager.enumListeners().first?.state == "idle")
        await bench.finish()
    }

    @Test("a modem that does not answer is reported and retried every ListenRetrySeconds; stop releases everything")
    func silentModem() async throws {
        // A pty nobody answers on: the line opens it, gets no answer, reports 666 and tries
        // again; the attempts are read at the master.
        let silent = try PseudoTerminal()
        let baseline = TestSupport.descriptorCount(referringTo: silent.slavePath)
        let bench = try await ListenBench(["ListenRetrySeconds=1", "InitTimeoutSeconds=1"], port: silent.slavePath)
        try await bench.listen()
        guard case .listener(let problem)? = await bench.waitFor({ $0.listenerKind == .modemProblem }) else {
            Issue.record("no modem-problem event")
            return
        }
        #expect(problem.error == .deviceNotReady, "\(String(describing: problem.error))")
        // An attempt is a burst of command lines; the retry pause is the silence between
        // bursts. What the first attempt wrote is read away first.
        while let old = try? silent.readNow(maxCount: 65536), !old.isEmpty {}
        var attempts: [ContinuousClock.Instant] = []
        var last: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(8)
        while attempts.count < 2, ContinuousClock.now < deadline {
            let bytes = (try? silent.readNow()) ?? []
            if !bytes.isEmpty {
                let now = ContinuousClock.now
                if last.map({ $0.duration(to: now) > .milliseconds(800) }) ?? true { attempts.append(now) }
                last = now
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(attempts.count == 2, "the silent modem is tried again")
        if attempts.count == 2 {
            let gap = attempts[0].duration(to: attempts[1])
            print("retry gap for a silent modem: \(gap.milliseconds) ms (ListenRetrySeconds=1, plus the failed init)")
            #expect(gap >= .milliseconds(900))
        }
        let line = try #require(await bench.manager.enumListeners().first)
        #expect(["retrying", "initializing"].contains(line.state) && line.error == .deviceNotReady)
        _ = try await bench.manager.stopListening(entryName: "Line")
        #expect(await TestSupport.eventually { await bench.manager.enumListeners().isEmpty })
        #expect(TestSupport.descriptorCount(referringTo: silent.slavePath) == baseline, "the port is closed")
        silent.close()
        await bench.finish()
    }

    @Test("a listening modem unplugged and plugged back (a new pty behind the same link) answers again")
    func unplugAndReplug() async throws {
        let links = try TestSupport.temporaryDirectory("links")
        defer { TestSupport.remove(links) }
        let link = links.appendingPathComponent("modem").path
        var settings = ModemLab.modem()
        settings.ringInterval = ListenBench.ringInterval
        let first = try FakeModemBank(scenario: Scenario(modemDefaults: settings), count: 1)
        try await first.start()
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: first.modems[0].slavePath)
        let bench = try await ListenBench(["ListenRetrySeconds=1"], port: link)
        try await bench.listenAndWait()
        first.modems[0].unplug()
        #expect(await bench.waitFor({ $0.listenerKind == .modemProblem }) != nil, "the unplug is reported")
        #expect(await bench.waitForLine("retrying") != nil)
        await first.stop()

        let second = try FakeModemBank(scenario: Scenario(modemDefaults: settings), count: 1)
        try await second.start()
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: second.modems[0].slavePath)
        let mark = bench.events.count
        #expect(await bench.waitFor(from: mark, { $0.listenerKind == .listening }) != nil, "listening again on the new modem")
        second.modems[0].call(ExternalCall(after: .zero, caller: Caller(number: .number("5557777"))))
        let handle = try #require(await bench.answered(from: mark))
        #expect(try await bench.manager.connectStatus(handle).callerID?.number == "5557777")
        #expect(await ModemLab.collect(try await bench.manager.notifications(for: handle)).last?.state == .connected)
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        _ = try await bench.manager.stopListening(entryName: "Line")
        #expect(await TestSupport.eventually { await bench.manager.enumListeners().isEmpty })
        #expect(TestSupport.descriptorCount(referringTo: second.modems[0].slavePath) == 1, "only the fake modem holds it")
        await second.stop()
        await bench.finish()
    }

    @Test("a line and a dial cannot share a port; listening twice returns the line; stop during a call waits for it")
    func portSharingAndStop() async throws {
        let bench = try await ListenBench()
        try await bench.listenAndWait()
        await #expect(throws: RasError.portAlreadyOpen) {
            _ = try await bench.manager.dial(.number("5551234", device: bench.lab.port()))
        }
        #expect(try await bench.listen().entryName == "Line", "a second listen is the same line")
        await #expect(throws: RasError.accessDenied) {
            _ = try await bench.manager.stopListening(entryName: "Line", caller: ProcessIdentity.userID &+ 4242)
        }
        bench.ring()
        let handle = try #require(await bench.answered())
        #expect(await ModemLab.collect(try await bench.manager.notifications(for: handle)).last?.state == .connected)
        let stopping = try await bench.manager.stopListening(entryName: "Line")
        #expect(stopping.state == "stopping" && stopping.handle == handle)
        #expect(try await bench.manager.connectStatus(handle).state == .connected, "the call goes on")
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        #expect(await TestSupport.eventually { await bench.manager.enumListeners().isEmpty }, "the line goes once the call ended")
        await #expect(throws: RasError.invalidHandle) { _ = try await bench.manager.stopListening(entryName: "Line") }
        await bench.finish()
    }

    @Test("entries that are not listening lines are refused with 87 and hold nothing")
    func badEntries() async throws {
        let bench = try await ListenBench()
        let path = bench.folder.appendingPathComponent("bad.pbk").path
        try "[Dialer]\nPhoneNumber=1\nPort=\(bench.lab.port())\n[NoPort]\nAnswer=1\n[BadPolicy]\nAnswer=1\nPort=/dev/null\nAllowCallers=abc\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        for name in ["Dialer", "NoPort"] {
            await #expect(throws: RasError.invalidParameter) {
                _ = try await bench.manager.listen(RasListenParameters(entryName: name, phonebookPath: path))
            }
        }
        await #expect(throws: RasError.self) {
            _ = try await bench.manager.listen(RasListenParameters(entryName: "BadPolicy", phonebookPath: path))
        }
        #expect(await bench.manager.enumListeners().isEmpty)
        await bench.finish()
    }

    @Test("caller ID split across reads, with noise and junk between the rings, is read whole; the call is answered")
    func callerIDSplitAndNoisy() async throws {
        // A scripted modem on a bare pty: it answers every command line with OK, and the
        // test writes the rings and the caller ID in pieces, with noise between them.
        let modem = try PseudoTerminal()
        let responder = Task {
            var pending: [UInt8] = []
            while !Task.isCancelled {
                let bytes = (try? modem.readNow()) ?? []
                pending += bytes
                while let end = pending.firstIndex(of: 13) {
                    let line = String(decoding: pending[..<end], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                    pending.removeSubrange(...end)
                    guard line.uppercased().hasPrefix("AT") else { continue }
                    let reply = line.uppercased() == "ATA" ? "\r\nCONNECT 33600\r\n" : "\r\nOK\r\n"
                    _ = try? modem.writeNow(Array(reply.utf8))
                }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        defer {
            responder.cancel()
            modem.close()
        }
        let bench = try await ListenBench(["RejectCallers=private"], port: modem.slavePath)
        try await bench.listenAndWait()
        let pieces = ["\r\nRING\r\n", "\r\n\u{7}#!noise\r\n", "\r\nDA", "TE = 1205\r\n\r\nTI", "ME = 1530\r\n",
                      "\r\nNMBR = 555", "1234\r\n", "\r\n+++ATH0 junk\r\n", "\r\nNAME = JOHN ", "DOE\r\n"]
        for piece in pieces {
            _ = try modem.writeNow(Array(piece.utf8))
            try await Task.sleep(for: .milliseconds(30))
        }
        let handle = try #require(await bench.answered())
        let caller = try await bench.manager.connectStatus(handle).callerID
        #expect(caller?.number == "5551234" && caller?.name == "JOHN DOE" && caller?.hour == 15 && caller?.day == 5,
                "\(String(describing: caller))")
        #expect(await ModemLab.collect(try await bench.manager.notifications(for: handle)).last?.state == .connected)
        _ = try modem.writeNow(Array("\r\nNO CARRIER\r\n".utf8))
        #expect(await TestSupport.eventually { (try? await bench.manager.connectStatus(handle).error) == .remoteDisconnection })
        #expect(await bench.waitForLine("idle") != nil, "re-armed")
        #expect(try await bench.lab.hangUpAndWait(handle) != nil)
        _ = try await bench.manager.stopListening(entryName: "Line")
        #expect(await TestSupport.eventually { await bench.manager.enumListeners().isEmpty })
        await bench.finish()
    }
}
