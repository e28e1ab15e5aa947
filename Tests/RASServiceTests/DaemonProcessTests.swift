import Foundation
import RAS
import RASService
import Synchronization
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `rasdial`, `rasmand` and `fakemodem` as real processes.
@Suite(.timeLimit(.minutes(2)))
struct DaemonProcessTests {
    @Test func dialExitListAndHangUpFromAnotherRasdial() async throws {
        try await Bench.run("dial") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let phonebook = try bench.phonebook([("Work", modems.links[0], "5551234")])

            let dial = try await bench.rasdial(["Work", "--phonebook", phonebook])
            #expect(dial.status == 0, "stderr: \(dial.stderr)")
            #expect(dial.lines.filter { $0.hasSuffix(")") && !$0.hasPrefix("Successfully") } == [
                "OpenPort (0)", "PortOpened (1)", "ConnectDevice (2)", "DeviceConnected (3)",
                "AllDevicesConnected (4)", "Connected (8192)",
            ])
            #expect(dial.stdout.contains("Successfully connected to Work"))

            // The dialer has exited; the connection lives on in the daemon.
            let list = try await bench.rasdial(["--json"])
            #expect(list.status == 0)
            let listed = try #require(list.objects.first)
            #expect(list.objects.count == 1)
            #expect(listed["entryName"] as? String == "Work")
            #expect(listed["state"] as? String == "Connected")
            #expect(listed["stateCode"] as? Int == 8192)
            #expect(listed["deviceType"] as? String == "modem")
            #expect(listed["phoneNumber"] as? String == "5551234")
            #expect(listed["error"] as? Int == 0)
            #expect(listed["phonebookPath"] as? String == phonebook)
            let text = try await bench.rasdial([])
            #expect(text.stdout.contains("Work") && text.stdout.contains("Connected (8192)"))

            let status = try await bench.rasdial(["--status", "Work"])
            #expect(status.status == 0)
            #expect(status.stdout.contains("State:") && status.stdout.contains("Connected (8192)"))

            let hangUp = try await bench.rasdial(["Work", "--disconnect"])
            #expect(hangUp.status == 0, "stderr: \(hangUp.stderr)")
            #expect(hangUp.stdout.contains("Disconnected Work"))
            // rasdial returned only after ERROR_INVALID_HANDLE: nothing is left.
            #expect(try await bench.rasdial([]).stdout == "No connections\n")
            #expect(modems.events().contains { $0.hasPrefix("on-hook") }, "transcript: \(modems.transcript)")
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func rasdialStartsTheDaemonOnceWhenTwoStartTogether() async throws {
        try await Bench.run("autostart") { bench in
            let modems = try await bench.startFakeModems(count: 2)
            #expect(!FileManager.default.fileExists(atPath: bench.socket))
            let options = (["--lock-dir", bench.lockDir] + Bench.daemonTimings).joined(separator: " ")
            let environment = ["RASMAND_OPTIONS": options]
            let first = try bench.startRasdial(["--device", modems.links[0], "--phone", "5551001"], environment: environment)
            let second = try bench.startRasdial(["--device", modems.links[1], "--phone", "5551002"], environment: environment)
            let firstStatus = try await first.waitForExit()
            let secondStatus = try await second.waitForExit()
            let client = try await bench.client()
            let server = try await client.hello()
            bench.adoptDaemon(pid: server.pid)
            #expect(firstStatus == 0, "stderr: \(first.stderr)")
            #expect(secondStatus == 0, "stderr: \(second.stderr)")
            #expect(server.pid != first.pid && server.pid != second.pid)

            let connections = try await client.enumConnections()
            #expect(Set(connections.map(\.entryName)) == [".5551001", ".5551002"])
            #expect(connections.allSatisfy { $0.state == .connected })
            // Started by rasdial: a per-user socket (0600) next to its log.
            let mode = try FileManager.default.attributesOfItem(atPath: bench.socket)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(FileManager.default.fileExists(atPath: bench.socket + ".log"))

            // Entry-less connections are hung up by their dot-name.
            let hangUp = try await bench.rasdial([".5551001", "--disconnect"])
            #expect(hangUp.status == 0, "stderr: \(hangUp.stderr)")
            #expect(try await client.enumConnections().map(\.entryName) == [".5551002"])

            // The daemon is not our child; SIGTERM hangs up the rest and removes the socket.
            _ = kill(server.pid, SIGTERM)
            #expect(await TestSupport.eventually(timeout: .seconds(20)) { !FileManager.default.fileExists(atPath: bench.socket) })
            #expect(await modems.waitForEvent("on-hook", modem: 1))
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func rasdialDevicesStartsTheDaemon() async throws {
        try await Bench.run("devices-autostart") { bench in
            let modems = try await bench.startFakeModems()
            #expect(!FileManager.default.fileExists(atPath: bench.socket))
            let options = (["--no-discovery", "--device", modems.links[0], "--lock-dir", bench.lockDir] + Bench.daemonTimings)
                .joined(separator: " ")
            let listing = try await bench.rasdial(["--devices", "--json"], environment: ["RASMAND_OPTIONS": options])
            #expect(listing.status == 0, "stderr: \(listing.stderr)")
            let server = try await bench.client().hello()
            bench.adoptDaemon(pid: server.pid)
            #expect(listing.objects.contains { $0["path"] as? String == modems.links[0] }, "\(listing.stdout)")
            #expect(!listing.stderr.contains("not running"), "a new user gets the devices, not a note: \(listing.stderr)")
        }
    }

    /// On a terminal (util-linux's `script` gives it one) `--watch` draws a live table.
    @Test func watchOnATerminalDrawsATable() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            print("skipped the live --watch table: script(1) is not installed (util-linux)")
            return
        }
        try await Bench.run("live-watch") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon(extra: ["--no-discovery"])
            #expect(try await bench.rasdial(["--device", modems.links[0], "--phone", "5551234"]).status == 0)
            let watch = Process()
            watch.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            watch.arguments = ["-qfec", "timeout -s INT 2.5 \(try Binaries.url("rasdial").path) --watch --socket \(bench.socket)", "/dev/null"]
            let pipe = Pipe()
            watch.standardOutput = pipe
            watch.standardInput = FileHandle.nullDevice
            try watch.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            watch.waitUntilExit()
            #expect(output.contains("\u{1B}[H\u{1B}[2J"), "redrawn in place: \(output)")
            let row = output.split(whereSeparator: \.isNewline).last { $0.hasPrefix("0x00000001") } ?? ""
            #expect(row.contains("Connected (8192)") && row.contains("115200") && row.contains(" out "), "\(row) in \(output)")
            #expect(output.contains("HANDLE") && output.contains("RECEIVED"))
            let piped = try bench.startRasdial(["--watch"])
            #expect(await TestSupport.eventually { piped.stdout.contains("Watching connections") })
            #expect(!piped.stdout.contains("\u{1B}["), "not a terminal: plain lines")
            piped.signal(SIGINT)
            #expect(try await piped.waitForExit() == 0)
        }
    }

    @Test func jsonListingsAreValidJSONEvenWhenEmpty() async throws {
        try await Bench.run("empty-json") { bench in
            for arguments in [["--json"], ["--listeners", "--json"]] {
                let none = try await bench.rasdial(arguments)
                #expect(none.status == 0 && none.stdout == "[]\n", "no daemon, \(arguments): \(none.stdout)")
            }
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon(extra: ["--no-discovery"])
            for arguments in [["--json"], ["--listeners", "--json"], ["--devices", "--json"]] {
                let listing = try await bench.rasdial(arguments)
                #expect(listing.status == 0 && listing.lines.count == 1, "\(arguments): \(listing.stdout)")
                #expect((try? JSONSerialization.jsonObject(with: Data(listing.stdout.utf8))) is [Any], "one JSON array")
            }
            #expect(try await bench.rasdial(["--json"]).stdout == "[]\n")
            let empty = bench.folder + "/empty.pbk"
            try "".write(toFile: empty, atomically: true, encoding: .utf8)
            #expect(try await bench.rasdial(["--entries", "--phonebook", empty, "--json"]).stdout == "[]\n")
            _ = try await bench.rasdial(["--device", modems.links[0], "--phone", "5551234"])
            let one = try await bench.rasdial(["--json"])
            #expect((try? JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [[String: Any]])?.count == 1)
        }
    }

    /// systemd's own `systemd-socket-activate` binds the socket and execs rasmand with it as
    /// fd 3 on the first connection, as a socket unit does.
    @Test func socketActivation() async throws {
        guard let tool = ["/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate"]
            .first(where: FileManager.default.isExecutableFile(atPath:)) else {
            print("skipped socket activation: systemd-socket-activate is not installed (.ci/run installs systemd)")
            return
        }
        try await Bench.run("activation") { bench in
            let modems = try await bench.startFakeModems()
            // Spawned with SystemIO's ChildProcess (reaped through a pidfd): started with
            // Foundation's Process, the rasdial children started after it were left as zombies
            // here (Foundation never saw them exit).
            let environment = ProcessInfo.processInfo.environment.filter { $0.key != "RAS_SOCKET" && $0.key != "RASMAND_OPTIONS" }
                .map { "\($0.key)=\($0.value)" }
            let daemon = try ChildProcess(
                executable: tool,
                arguments: ["-l", bench.socket, try Binaries.url("rasmand").path] + bench.daemonArguments + ["--no-discovery"],
                environment: environment)
            let log = LogCollector(daemon)
            defer { daemon.send(SIGKILL) }
            #expect(await TestSupport.eventually { FileManager.default.fileExists(atPath: bench.socket) })
            let dial = try await bench.rasdial(["--device", modems.links[0], "--phone", "5551234"])
            #expect(dial.status == 0, "stderr: \(dial.stderr), daemon: \(log.text)")
            let server = try await bench.client().hello()
            #expect(server.pid == daemon.pid, "the activator exec'd rasmand with the socket")
            daemon.send(SIGTERM)
            let end = await daemon.waitForExit(deadline: .now + .seconds(30))
            #expect(end == .exited(0), "\(log.text)")
            #expect(await TestSupport.eventually { log.text.contains("socket activation") }, "\(log.text)")
            #expect(await modems.waitForEvent("on-hook"), "the connection was hung up on shutdown")
            #expect(FileManager.default.fileExists(atPath: bench.socket), "the socket is systemd's: left in place")
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func failedDialKeepsItsHandleUntilHungUp() async throws {
        try await Bench.run("busy") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let client = try await bench.client()

            let dial = try await client.dial(.number("5550100", device: modems.links[0]))
            let seen = await collectUntilTerminal(dial.notifications)
            #expect(seen.last?.state == .disconnected)
            #expect(seen.last?.error == .lineBusy)
            #expect(seen.contains { $0.state == .connectDevice && $0.error == .lineBusy })

            // The failed connection stays listed, with its error, until someone hangs it up.
            try await Task.sleep(for: .milliseconds(200))
            let listed = try #require(try await client.enumConnections().first { $0.handle == dial.handle })
            #expect(listed.state == .disconnected)
            #expect(listed.error?.code == 676)
            let list = try await bench.rasdial(["--json"])
            #expect(list.objects.first?["error"] as? Int == 676)
            #expect(list.objects.first?["stateCode"] as? Int == 8193)
            #expect(list.objects.first?["errorName"] as? String == "ERROR_LINE_BUSY")
            let status = try await client.connectStatus(dial.handle)
            #expect(status.state == .disconnected && status.error == .lineBusy)

            try await client.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: client))

            // rasdial hangs up its own failed dial before it exits.
            let failed = try await bench.rasdial(["--device", modems.links[0], "--phone", "5550100"])
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("error 676"))
            #expect(failed.stdout.contains("Disconnected (8193) error 676"))
            #expect(try await client.enumConnections().isEmpty)

            let json = try await bench.rasdial(["--device", modems.links[0], "--phone", "5550100", "--json"])
            #expect(json.status == 1)
            let last = try #require(json.objects.last)
            #expect(last["error"] as? Int == 676)
            #expect(last["errorName"] as? String == "ERROR_LINE_BUSY")
            #expect(last["errorMessage"] as? String == RasError.lineBusy.message)
            #expect(json.objects.dropLast().allSatisfy { $0["handle"] != nil && $0["stateCode"] != nil })
            #expect(try await client.enumConnections().isEmpty)
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func hangUpWhileDialing() async throws {
        try await Bench.run("abort") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let client = try await bench.client()

            let dialer = try bench.startRasdial(["--device", modems.links[0], "--phone", "5550200"])
            #expect(await modems.waitForEvent("dial 5550200"))
            let dialing = try #require(try await client.enumConnections().first)
            #expect(dialing.state == .connectDevice)

            let hangUp = try await bench.rasdial([".5550200", "--disconnect"])
            #expect(hangUp.status == 0, "stderr: \(hangUp.stderr)")
            #expect(try await dialer.waitForExit() == 1)
            #expect(dialer.stderr.contains("error 631"))
            #expect(!dialer.stdout.contains("Connected (8192)"))
            #expect(try await client.enumConnections().isEmpty)
            #expect(modems.events().contains { $0.hasPrefix("on-hook") }, "transcript: \(modems.transcript)")
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func interruptingRasdialHangsUpItsDial() async throws {
        try await Bench.run("sigint") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let client = try await bench.client()
            let dialer = try bench.startRasdial(["--device", modems.links[0], "--phone", "5550200"])
            #expect(await modems.waitForEvent("dial 5550200"))
            dialer.signal(SIGINT)
            #expect(try await dialer.waitForExit() == 1)
            // A daemon that hangs up in time: rasdial waited for the hang-up to finish.
            #expect(dialer.stderr.contains("error 631"))
            #expect(dialer.stderr.contains("was hung up"), "stderr: \(dialer.stderr)")
            #expect(!dialer.stderr.contains("continues in rasmand"))
            #expect(try await client.enumConnections().isEmpty)
            #expect(modems.events().contains { $0.hasPrefix("on-hook") })
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func disconnectWithoutANameHangsUpEveryConnection() async throws {
        try await Bench.run("all") { bench in
            let modems = try await bench.startFakeModems(count: 3)
            _ = try await bench.startDaemon()
            let client = try await bench.client()
            var handles: [String] = []
            for (index, link) in modems.links.enumerated() {
                let dial = try await client.dial(.number("555400\(index)", device: link))
                _ = await collectUntilTerminal(dial.notifications)
                handles.append(dial.handle.description)
            }
            let result = try await bench.rasdial(["--disconnect", "--json"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.objects.compactMap { $0["handle"] as? String }.sorted() == handles)
            #expect(result.objects.allSatisfy { $0["hungUp"] as? Bool == true })
            #expect(try await client.enumConnections().isEmpty)
            #expect(try await bench.rasdial(["--disconnect"]).stdout == "No connections\n")
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func sigtermHangsUpEveryConnection() async throws {
        try await Bench.run("sigterm") { bench in
            let modems = try await bench.startFakeModems(count: 3)
            let daemon = try await bench.startDaemon()
            let client = try await bench.client()
            var handles: [RasConnectionHandle] = []
            for (index, link) in modems.links.enumerated() {
                let dial = try await client.dial(.number("555200\(index)", device: link))
                #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)
                handles.append(dial.handle)
            }
            #expect(bench.lockFiles.count == 3)
            let events = try await client.connectionEvents()

            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit() == 0, "stderr: \(daemon.stderr)")
            for index in modems.links.indices {
                #expect(modems.events(index).contains { $0.hasPrefix("on-hook") }, "modem \(index): \(modems.events(index))")
            }
            #expect(bench.lockFiles.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: bench.socket))
            // Watchers saw every connection go, then the stream ended with the daemon.
            var removed: Set<RasConnectionHandle> = []
            for await event in events where event.kind == .removed { removed.insert(event.connection.handle) }
            #expect(removed == Set(handles))
            // The client notices the daemon is gone: 711.
            await #expect(throws: RasError.connectionManagerUnavailable) { try await client.enumConnections() }
            #expect(daemon.stderr.contains("shutting down"))
        }
    }

    @Test func sigkillLeavesStaleLocksThatTheNextDaemonReclaims() async throws {
        try await Bench.run("sigkill") { bench in
            let modems = try await bench.startFakeModems()
            let first = try await bench.startDaemon(name: "rasmand-1")
            let phonebook = try bench.phonebook([("Work", modems.links[0], "5551234")])
            #expect(try await bench.rasdial(["Work", "--phonebook", phonebook]).status == 0)
            #expect(bench.lockFiles.count == 1)

            first.signal(SIGKILL)
            #expect(try await first.waitForExit() == 128 + SIGKILL)
            // The kernel closed the port (HUPCL): the modem hung up.
            #expect(await modems.waitForEvent("slave-closed"))
            #expect(FileManager.default.fileExists(atPath: bench.socket))
            #expect(bench.lockFiles.count == 1)

            let second = try await bench.startDaemon(name: "rasmand-2")
            #expect(second.stderr.contains("replaced a stale socket"))
            let again = try await bench.rasdial(["Work", "--phonebook", phonebook])
            #expect(again.status == 0, "stderr: \(again.stderr)")
            #expect(await modems.waitForEvent("connect", count: 2))
            let lock = try String(contentsOfFile: bench.lockDir + "/" + (bench.lockFiles.first ?? ""), encoding: .utf8)
            #expect(Int32(lock.trimmingCharacters(in: .whitespacesAndNewlines)) == second.pid)
            #expect(try await bench.rasdial(["--disconnect"]).status == 0)
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func aSecondDaemonOnALiveSocketRefusesToStart() async throws {
        try await Bench.run("twice") { bench in
            let first = try await bench.startDaemon()
            let second = try Spawned(try Binaries.url("rasmand"), bench.daemonArguments, name: "rasmand-2", folder: bench.folder)
            bench.adopt(second)
            #expect(try await second.waitForExit() == 1)
            #expect(second.stderr.contains("already running (pid \(first.pid))"), "stderr: \(second.stderr)")
            #expect(first.isRunning)
            #expect(try await bench.client().hello().pid == first.pid)
        }
    }

    @Test(.enabled(if: ProcessIdentity.effectiveUserID == 0, "giving the socket to a group needs root"))
    func socketGroupAndModeAndTheMissingGroupFallback() async throws {
        try await Bench.run("group") { bench in
            let group = try #require(Self.existingGroup, "no dialout, uucp or daemon group")
            let daemon = try await bench.startDaemon(extra: ["--socket-group", group, "--socket-mode", "0660"])
            let attributes = try FileManager.default.attributesOfItem(atPath: bench.socket)
            #expect(attributes[.posixPermissions] as? Int == 0o660)
            #expect(attributes[.groupOwnerAccountName] as? String == group)
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit() == 0)

            let fallback = try await bench.startDaemon(extra: ["--socket-group", "no-such-group-swift-ras", "--socket-mode", "0660"])
            #expect(try FileManager.default.attributesOfItem(atPath: bench.socket)[.posixPermissions] as? Int == 0o600)
            #expect(fallback.stderr.contains("group does not exist"))
            #expect(try await bench.client().hello().pid == fallback.pid)
        }
    }

    static let existingGroup = ["dialout", "uucp", "daemon"].first { name in
        ((try? String(contentsOfFile: "/etc/group", encoding: .utf8)) ?? "").split(separator: "\n").contains { $0.hasPrefix(name + ":") }
    }

    @Test func thirtyTwoConnectionsAtOnce() async throws {
        try await Bench.run("many") { bench in
            let count = 32
            let modems = try await bench.startFakeModems(count: count)
            _ = try await bench.startDaemon(extra: ["--log-level", "notice"])
            let clients = try await withThrowingTaskGroup(of: RASClient.self) { group in
                for _ in 0..<4 { group.addTask { try await bench.client() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let handles = try await withThrowingTaskGroup(of: (RasConnectionHandle, RasConnState?).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let dial = try await clients[index % clients.count].dial(
                            .number(String(5_553_000 + index), device: modems.links[index]))
                        return (dial.handle, await collectUntilTerminal(dial.notifications).last?.state)
                    }
                }
                return try await group.reduce(into: [(RasConnectionHandle, RasConnState?)]()) { $0.append($1) }
            }
            #expect(handles.count == count)
            #expect(handles.allSatisfy { $0.1 == .connected })
            #expect(Set(handles.map(\.0)).count == count)

            let list = try await bench.rasdial(["--json"])
            #expect(list.objects.count == count)
            #expect(Set(list.objects.compactMap { $0["deviceName"] as? String }) == Set(modems.slaves))
            #expect(list.objects.allSatisfy { $0["state"] as? String == "Connected" })
            #expect(bench.lockFiles.count == count)

            try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, (handle, _)) in handles.enumerated() {
                    group.addTask {
                        let client = clients[(index + 1) % clients.count]
                        try await client.hangUp(handle)
                        return await waitUntilGone(handle, on: client, timeout: .seconds(60))
                    }
                }
                for try await gone in group { #expect(gone) }
            }
            #expect(try await clients[0].enumConnections().isEmpty)
            for index in 0..<count {
                #expect(modems.events(index).contains { $0.hasPrefix("on-hook") }, "modem \(index)")
            }
            #expect(bench.lockFiles.isEmpty)
        }
    }

    @Test func watchStreamsConnectionEvents() async throws {
        try await Bench.run("watch") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let watcher = try bench.startRasdial(["--watch", "--json"])
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { watcher.stdout.contains("\"watching\"") })

            #expect(try await bench.rasdial(["--device", modems.links[0], "--phone", "5550100"]).status == 1)
            #expect(try await bench.rasdial(["--device", modems.links[0], "--phone", "5551234"]).status == 0)
            #expect(try await bench.rasdial([".5551234", "--disconnect"]).status == 0)
            let expected: [(String, String)] = [
                ("disconnected", ".5550100"), ("removed", ".5550100"),
                ("connected", ".5551234"), ("disconnected", ".5551234"), ("removed", ".5551234"),
            ]
            let arrived = await TestSupport.eventually(timeout: .seconds(10)) {
                watcher.stdoutLines.filter { $0.contains("\"removed\"") }.count >= 2
            }
            #expect(arrived, "watch output: \(watcher.stdout)")
            watcher.signal(SIGINT)
            #expect(try await watcher.waitForExit() == 0)
            let objects = CommandResult(status: 0, stdout: watcher.stdout, stderr: "").objects
            let events = objects.dropFirst().map { ($0["event"] as? String ?? "", $0["entryName"] as? String ?? "") }
            #expect(events.map(\.0) == expected.map(\.0))
            #expect(events.map(\.1) == expected.map(\.1))
            #expect(objects.dropFirst().first?["error"] as? Int == 676)
        }
    }

    @Test("a name or a handle that matches no connection (any more) is error 6, for --status and --disconnect")
    func namesAndHandlesAfterHangUp() async throws {
        try await Bench.run("names") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let phonebook = try bench.phonebook([("Work", modems.links[0], "5551234")])
            let dial = try await bench.rasdial(["Work", "--phonebook", phonebook, "--json"])
            #expect(dial.status == 0, "stderr: \(dial.stderr)")
            let handle = try #require(dial.objects.last?["handle"] as? String)
            #expect(try await bench.rasdial(["--status", "Work"]).status == 0)
            #expect(try await bench.rasdial(["Work", "--disconnect"]).status == 0)

            for arguments in [["--status", "Work"], ["--status", handle], ["Work", "--disconnect"],
                              ["--disconnect", "--handle", handle], ["--status", "Nowhere"]] {
                let text = try await bench.rasdial(arguments)
                #expect(text.status == 1, "\(arguments)")
                #expect(text.stderr.hasPrefix("error 6: "), "\(arguments): \(text.stderr)")
                let json = try await bench.rasdial(arguments + ["--json"])
                #expect(json.status == 1 && json.objects.last?["error"] as? Int == 6, "\(arguments): \(json.stdout)")
            }
            #expect(try await bench.rasdial(["--status", "Work"]).stderr.contains("no connection named 'Work'"))
        }
    }

    @Test("one number dialed on two modems: two connections; its name shows and hangs up both")
    func sameNumberOnTwoModems() async throws {
        try await Bench.run("twice") { bench in
            let modems = try await bench.startFakeModems(count: 2)
            _ = try await bench.startDaemon()
            for link in modems.links {
                let dial = try await bench.rasdial(["--device", link, "--phone", "5551234"])
                #expect(dial.status == 0, "stderr: \(dial.stderr)")
            }
            let status = try await bench.rasdial(["--status", ".5551234", "--json"])
            #expect(status.status == 0)
            #expect(status.objects.count == 2)
            #expect(Set(status.objects.compactMap { $0["handle"] as? String }).count == 2)
            #expect(status.objects.allSatisfy { $0["state"] as? String == "Connected" })
            let hangUp = try await bench.rasdial([".5551234", "--disconnect", "--json"])
            #expect(hangUp.status == 0, "stderr: \(hangUp.stderr)")
            #expect(hangUp.objects.filter { $0["hungUp"] as? Bool == true }.count == 2)
            #expect(try await bench.rasdial([]).stdout == "No connections\n")
        }
    }

    @Test func entriesListThePhonebooks() async throws {
        try await Bench.run("entries") { bench in
            let phonebook = try bench.phonebook([("Work", "/dev/null", "1"), ("Home", "/dev/null", "2")])
            let listed = try await bench.rasdial(["--entries", "--phonebook", phonebook, "--json"])
            #expect(listed.status == 0)
            #expect(listed.objects.compactMap { $0["name"] as? String } == ["Work", "Home"])
            #expect(listed.objects.allSatisfy { $0["phonebookPath"] as? String == phonebook })

            // Without --phonebook: the user's phonebook under XDG_CONFIG_HOME.
            let config = bench.folder + "/config/swift-ras"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: phonebook, toPath: config + "/rasphone.pbk")
            let user = try await bench.rasdial(["--entries"])
            #expect(user.status == 0)
            #expect(user.stdout.contains("Work") && user.stdout.contains("user"))

            let missing = try await bench.rasdial(["Nowhere"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("error 623"))
        }
    }

    @Test("--entries lists the good entries and reports each bad one (stderr, or error objects), exit 1")
    func entriesWithACorruptEntry() async throws {
        try await Bench.run("corrupt") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let phonebook = bench.folder + "/mixed.pbk"
            try """
                [Work]
                Port=\(modems.links[0])
                PhoneNumber=5551234
                [Evil]
                InitString=ATDT19005551234
                [Home]
                Port=\(modems.links[0])
                PhoneNumber=5559999
                """.write(toFile: phonebook, atomically: true, encoding: .utf8)
            let text = try await bench.rasdial(["--entries", "--phonebook", phonebook])
            #expect(text.status == 1)
            #expect(text.lines.first?.hasPrefix("ENTRY") == true)
            #expect(text.lines.dropFirst().map { $0.split(separator: " ").first.map(String.init) } == ["Work", "Home"])
            #expect(text.stderr == "error 625: The phonebook file is corrupt. (\(phonebook), line 5: entry 'Evil': "
                + "InitString 'ATDT19005551234': the D command at position 3 dials; init strings may not dial, "
                + "answer, go online or go off-hook)\n", "\(text.stderr)")

            let json = try await bench.rasdial(["--entries", "--phonebook", phonebook, "--json"])
            #expect(json.status == 1)
            #expect(json.objects.compactMap { $0["error"] == nil ? $0["name"] as? String : nil } == ["Work", "Home"])
            let problem = try #require(json.objects.last)
            #expect(problem["error"] as? Int == 625)
            #expect(problem["errorName"] as? String == "ERROR_CORRUPT_PHONEBOOK")
            #expect(problem["name"] as? String == "Evil")
            #expect(problem["line"] as? Int == 5)
            #expect(problem["phonebookPath"] as? String == phonebook)
            #expect((problem["errorDetail"] as? String)?.contains("line 5: entry 'Evil'") == true)

            // The good entries of that phonebook dial.
            let dial = try await bench.rasdial(["Home", "--phonebook", phonebook])
            #expect(dial.status == 0, "stderr: \(dial.stderr)")
            #expect(try await bench.rasdial(["Home", "--disconnect"]).status == 0)
            let evil = try await bench.rasdial(["Evil", "--phonebook", phonebook])
            #expect(evil.status == 1 && evil.stderr.hasPrefix("error 625: "))
            #expect(!modems.events().contains { $0.contains("1900") })
        }
    }

    @Test func badCommandLinesExitTwo() async throws {
        try await Bench.run("usage") { bench in
            for arguments in [["--bogus"], ["--status"], ["--watch", "--demo"], ["--device", "/dev/null"],
                              ["Work", "--device", "/dev/null"], ["--handle", "zz", "--disconnect"]] {
                let result = try await bench.rasdial(arguments)
                #expect(result.status == 2, "\(arguments): \(result.stderr)")
            }
            let daemon = try Spawned(try Binaries.url("rasmand"), ["--socket-mode", "999"], name: "rasmand", folder: bench.folder)
            #expect(try await daemon.waitForExit() == 2)
            // Without a daemon, listing says so and hanging up a name is an error.
            #expect(try await bench.rasdial([]).stdout == "No connections\n")
            let hangUp = try await bench.rasdial(["Work", "--disconnect"])
            #expect(hangUp.status == 1 && hangUp.stderr.contains("error 6:"), "\(hangUp.stderr)")
            let status = try await bench.rasdial(["--status", "0x00000007", "--json"])
            #expect(status.status == 1 && status.objects.first?["error"] as? Int == 6)
        }
    }

    @Test("rasdial --demo | head: a reader that goes away does not leave the demo's processes behind")
    func demoSurvivesAClosedStdout() async throws {
        let process = Process()
        process.executableURL = try Binaries.url("rasdial")
        process.arguments = ["--demo"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var first = Data()
        while !first.contains(10) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first += chunk
        }
        try output.fileHandleForReading.close()       // like `| head -1`
        let folder = try #require(String(decoding: first, as: UTF8.self).split(separator: "\n").first?
            .components(separatedBy: " in ").last)
        #expect(await TestSupport.eventually(timeout: .seconds(30)) { !process.isRunning }, "rasdial finished")
        #expect(process.terminationReason == .exit, "rasdial was not killed by SIGPIPE")
        #expect(!FileManager.default.fileExists(atPath: folder), "the demo cleaned up \(folder)")
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            guard Int(entry) != nil, let command = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8) else { return false }
            return command.contains(folder)
        }
        #expect(children.isEmpty, "no fakemodem or rasmand of this demo still runs: \(children)")
    }

    @Test func demoRunsTheWholeStack() async throws {
        try await Bench.run("demo") { bench in
            let demo = try await bench.rasdial(["--demo"])
            #expect(demo.status == 0, "stdout: \(demo.stdout)\nstderr: \(demo.stderr)")
            #expect(demo.stdout.contains("Connected (8192)"))
            #expect(demo.stdout.contains("error 6:"))
            #expect(demo.stdout.contains(" -- on-hook"))
            #expect(demo.stdout.contains("Stopped rasmand") && demo.stdout.contains("exit status 0"))
            #expect(demo.stdout.contains("Demo completed successfully."))
            let folder = try #require(demo.lines.first?.components(separatedBy: " in ").last)
            #expect(!FileManager.default.fileExists(atPath: folder))

            let json = try await bench.rasdial(["--demo", "--json"])
            #expect(json.status == 0, "stderr: \(json.stderr)")
            #expect(json.isJSONLines && !json.lines.isEmpty)
            #expect(json.objects.contains { $0["state"] as? String == "Connected" })
            #expect(json.objects.contains { $0["hungUp"] as? Bool == true })
            #expect(json.objects.contains { ($0["transcript"] as? [String])?.contains { $0.contains("on-hook") } == true })
        }
    }
}

/// Collects a child's output in the background.
final class LogCollector: Sendable {
    private final class Box: Sendable {
        let text = Mutex("")
    }

    private let box = Box()

    init(_ child: ChildProcess) {
        let box = self.box
        Task {
            while let bytes = try? await child.readOutput(deadline: nil) {
                box.text.withLock { $0 += String(decoding: bytes, as: UTF8.self) }
            }
        }
    }

    var text: String { box.text.withLock { $0 } }
}
