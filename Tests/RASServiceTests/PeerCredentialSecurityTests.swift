import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, part 3: `SO_PEERCRED` on everything that touches another user's connection or
/// line. Root dials out and answers the call on its own listening line; uid 65534 (a raw
/// client run with setpriv) may see that both exist but not their details, and may not hang
/// them up, read their statistics, open their data paths, stop or share the line.
@Suite(.timeLimit(.minutes(2)), .enabled(if: Hostile.otherUserMissing == nil, "needs root and setpriv to run a client as nobody"))
struct PeerCredentialSecurityTests {
    @Test func anotherUserSeesThatConnectionsExistButNotTheirDetails() async throws {
        try await Bench.run("peercred") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            try AnsweringProcessTests.writeExchange(bench)
            let modems = try await bench.startFakeModems(count: 2)
            let book = bench.folder + "/root.pbk"
            try AnsweringProcessTests.outAndLine(modems.links).write(toFile: book, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: book)
            _ = try await bench.startDaemon(extra: ["--socket-mode", "0666", "--no-discovery"])
            let root = try await bench.client()
            _ = try await root.listen(RasListenParameters(entryName: "Line", phonebookPath: book))

            // nobody watches everything from before the call on.
            let watcher = try Hostile.start(bench, Hostile.client, [bench.socket, "30", #"{"v":1,"id":1,"op":"watch"}"#],
                                            asNobody: true, name: "watcher")
            #expect(await TestSupport.eventually { watcher.stdout.contains(#""id":1"#) }, "the watch is answered")

            let dial = try await root.dial(.entry("Out", phonebookPath: book))
            #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)
            var answered: RasConnection?
            _ = await TestSupport.eventually(timeout: .seconds(10)) {
                answered = try? await root.enumConnections().first { $0.direction == .incoming && $0.state == .connected }
                return answered != nil
            }
            let incoming = try #require(answered, "the call is answered")
            let outStatus = try await root.connectStatus(dial.handle)
            let inStatus = try await root.connectStatus(incoming.handle)
            let secrets = ["5550200", "5550100", book, try #require(outStatus.dataPath), try #require(inStatus.dataPath)]
            #expect(outStatus.phoneNumber == "5550200", "root sees its own details")

            let out = dial.handle.description, inc = incoming.handle.description
            let asked = try await Hostile.asNobody(bench, [bench.socket, "0",
                #"{"v":1,"id":1,"op":"enumConnections"}"#,
                #"{"v":1,"id":2,"op":"status","handle":"\#(out)"}"#,
                #"{"v":1,"id":3,"op":"status","handle":"\#(inc)"}"#,
                #"{"v":1,"id":4,"op":"statistics","handle":"\#(out)"}"#,
                #"{"v":1,"id":5,"op":"hangUp","handle":"\#(out)"}"#,
                #"{"v":1,"id":6,"op":"hangUp","entryName":"Line"}"#,
                #"{"v":1,"id":7,"op":"listeners"}"#,
                #"{"v":1,"id":8,"op":"stopListening","entryName":"Line"}"#,
                #"{"v":1,"id":9,"op":"subscribe","handle":"\#(out)"}"#,
            ])
            #expect(asked.status == 0, "\(asked.stderr)")
            let frames = Hostile.frames(asked)
            let listed = try #require(Hostile.answer(1, in: frames)?["connections"] as? [[String: Any]])
            #expect(Set(listed.compactMap { $0["handle"] as? String }) == [out, inc], "both connections are listed")
            for connection in listed {
                #expect(connection["state"] as? String == "Connected" && connection["entryName"] != nil)
                #expect((connection["phoneNumber"] as? String ?? "").isEmpty && connection["phonebookPath"] == nil
                        && connection["callerID"] == nil, "\(connection)")
            }
            for id in [2, 3] {
                let status = try #require(Hostile.answer(id, in: frames)?["status"] as? [String: Any], "\(frames)")
                #expect(status["state"] as? String == "Connected")
                #expect(status["dataPath"] as? String == nil && status["projection"] == nil && status["callerID"] == nil
                        && status["connectDetails"] == nil && (status["phoneNumber"] as? String ?? "").isEmpty, "\(status)")
            }
            for id in [4, 5, 6, 8] {
                #expect(Hostile.errorCode(Hostile.answer(id, in: frames)) == 5, "request \(id): \(frames)")
            }
            let line = try #require((Hostile.answer(7, in: frames)?["listeners"] as? [[String: Any]])?.first)
            #expect(line["entryName"] as? String == "Line" && line["phonebookPath"] == nil && line["lastCaller"] == nil, "\(line)")
            #expect(Hostile.answer(9, in: frames)?["ok"] as? Bool == true, "anyone may follow the states")

            // The data paths and their links are root's: nobody cannot open them.
            let opened = try await Hostile.asNobody(bench, ["--open"] + secrets.suffix(2) + [bench.folder + "/lines/Out", bench.folder + "/lines/Line"])
            #expect(opened.lines.count == 4 && opened.lines.allSatisfy { $0.hasSuffix("errno 13") }, "\(opened.stdout)")

            // Nobody's own phonebook naming the same line: the line is root's, not shared.
            let theirs = bench.folder + "/nobody.pbk"
            try "[Line]\nAnswer=1\nPort=\(modems.links[1])\n".write(toFile: theirs, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: theirs)
            let share = try await Hostile.asNobody(bench, [bench.socket, "0",
                #"{"v":1,"id":1,"op":"listen","entryName":"Line","phonebookPath":"\#(theirs)"}"#])
            #expect(Hostile.errorCode(Hostile.answer(1, in: Hostile.frames(share))) == 5, "\(share.stdout)")

            // Everything is still root's and up; the watcher saw the events, without details.
            #expect(try await root.connectStatus(dial.handle).state == .connected)
            #expect(try await root.enumListeners().count == 1)
            try await root.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: root))
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { watcher.stdout.contains(#""kind":"removed""#) })
            // SIGKILL: a test process that blocked SIGTERM (TerminationSignals) hands the
            // blocked mask on to its children, and python would never see a SIGTERM.
            watcher.signal(SIGKILL)
            _ = try await watcher.waitForExit(timeout: .seconds(20))
            let events = watcher.stdoutLines
            #expect(events.contains { $0.contains(#""kind":"connected""#) }, "\(watcher.stdout)")
            #expect(events.contains { $0.contains(#""kind":"answer""#) }, "\(watcher.stdout)")
            for secret in secrets {
                for output in [asked.stdout, watcher.stdout, share.stdout] {
                    #expect(!output.contains(secret), "nobody saw \(secret): \(output)")
                }
            }
        }
    }
}
