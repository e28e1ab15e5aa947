import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, part 3: phonebook paths from clients (no reading what the client could not,
/// through links swapped while the daemon reads), and a PPP password that appears in none
/// of the daemon's outputs.
@Suite(.timeLimit(.minutes(2)))
struct DataSecurityTests {
    /// Flips links while it asks: DIR/cur (a folder link) and DIR/link.pbk (a file link)
    /// point in turn at nobody's public phonebook and at root's secret one; every reply of
    /// 300 `enumEntries` through them is printed.
    static let racer = #"""
        import json, os, socket, sys, threading, time
        sock, folder, public, secret = sys.argv[1:5]
        stop = False
        def flip():
            i = 0
            while not stop:
                for name, a, b in (('cur', os.path.dirname(public), os.path.dirname(secret)),
                                   ('link.pbk', public, secret)):
                    tmp = '%s/.%s.%d' % (folder, name, i)
                    os.symlink(a if i % 2 else b, tmp)
                    os.rename(tmp, '%s/%s' % (folder, name))
                i += 1
        thread = threading.Thread(target=flip)
        thread.start()
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile('rb')
        paths = [folder + '/cur/' + os.path.basename(public), folder + '/link.pbk']
        try:
            for i in range(300):
                request = {'v': 1, 'id': i + 1, 'op': 'enumEntries', 'phonebookPath': paths[i % 2]}
                s.sendall((json.dumps(request) + '\n').encode())
                print(f.readline().decode().rstrip(), flush=True)
        finally:
            stop = True
            thread.join()
        """#

    @Test(.enabled(if: Hostile.otherUserMissing == nil, "needs root and setpriv to run a client as nobody"))
    func aClientCannotReadThroughSwappedLinksWhatItCouldNotReadItself() async throws {
        try await Bench.run("pbk-race") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            let theirs = bench.folder + "/nobody", secretFolder = bench.folder + "/secret"
            try FileManager.default.createDirectory(atPath: theirs + "/pub", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: secretFolder, withIntermediateDirectories: true)
            let publicBook = theirs + "/pub/book.pbk", secretBook = secretFolder + "/book.pbk"
            try "[Public]\nPort=/dev/null\nPhoneNumber=5551111\n".write(toFile: publicBook, atomically: true, encoding: .utf8)
            try "[Secret]\nPort=/dev/null\nPhoneNumber=5559999\n".write(toFile: secretBook, atomically: true, encoding: .utf8)
            try #require(chmod(secretBook, 0o600) == 0)
            for path in [theirs, theirs + "/pub", publicBook] { try #require(chown(path, 65534, 65534) == 0) }
            try #require(chmod(publicBook, 0o644) == 0)
            _ = try await bench.startDaemon(extra: ["--socket-mode", "0666", "--no-discovery"])

            // Plainly: root's 0600 phonebook is 621 for nobody, by its path and through a link.
            try FileManager.default.createSymbolicLink(atPath: theirs + "/plain.pbk", withDestinationPath: secretBook)
            let plain = try await Hostile.asNobody(bench, [bench.socket, "0",
                #"{"v":1,"id":1,"op":"enumEntries","phonebookPath":"\#(secretBook)"}"#,
                #"{"v":1,"id":2,"op":"enumEntries","phonebookPath":"\#(theirs)/plain.pbk"}"#,
                #"{"v":1,"id":3,"op":"dial","dial":{"entryName":"Secret","phonebookPath":"\#(secretBook)"}}"#,
            ])
            for id in 1...3 {
                #expect(Hostile.errorCode(Hostile.answer(id, in: Hostile.frames(plain))) == 621, "\(plain.stdout)")
            }

            // Racing: links flipped by nobody while the daemon resolves and opens them.
            let racer = try Hostile.start(bench, Self.racer, [bench.socket, theirs, publicBook, secretBook], asNobody: true, name: "racer")
            _ = try await racer.waitForExit(timeout: .seconds(60))
            let replies = racer.stdoutLines
            #expect(replies.count == 300, "\(racer.stderr)")
            let readPublic = replies.filter { $0.contains("\"Public\"") }.count
            let refused = replies.filter { $0.contains("\"code\":621") }.count
            print("phonebook link race: \(readPublic) replies read the public phonebook, \(refused) were refused (621), of \(replies.count)")
            #expect(readPublic + refused == replies.count, "every reply is the public book or a refusal")
            #expect(!racer.stdout.contains("Secret") && !racer.stdout.contains("5559999"), "root's phonebook never leaked")
            #expect(!plain.stdout.contains("5559999"))
        }
    }

    @Test func thePPPPasswordIsInNoLogTranscriptJSONOrMetricAndDataPathsAreRemoved() async throws {
        let password = "pw-\(UUID().uuidString.prefix(12))"
        try await Bench.run("password") { bench in
            let modems = try await bench.startFakeModems()
            let passwordFile = bench.folder + "/password"
            try "\(password)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            try #require(chmod(passwordFile, 0o600) == 0)
            let book = bench.folder + "/ppp.pbk"
            try """
                [ISP]
                Port=\(modems.links[0])
                PhoneNumber=5551234
                Framing=PPP
                PppdPath=\(AnsweringProcessTests.pppdStandIn)
                PppdOptions=noauth report \(bench.folder)/pppd-report
                User=alice
                PasswordFile=\(passwordFile)

                """.write(toFile: book, atomically: true, encoding: .utf8)
            let daemon = try await bench.startDaemon(extra: ["--no-discovery", "--metrics-listen", "127.0.0.1:0", "--log-level", "trace"])
            let url = try await MetricsProcessTests.metricsURL(daemon)
            let dial = try await bench.rasdial(["ISP", "--phonebook", book, "--json"])
            #expect(dial.status == 0, "\(dial.stderr)")
            let handle = try #require(dial.objects.compactMap { $0["handle"] as? String }.first, "\(dial.stdout)")
            let report = try String(contentsOfFile: bench.folder + "/pppd-report", encoding: .utf8)
            #expect(report.contains("password=\(password)"), "pppd got the password (on its stdin): \(report)")

            let status = try await bench.rasdial(["--status", handle, "--json"])
            let listing = try await bench.rasdial(["--json"])
            let scrape = try await Scrape(url)
            let links = try FileManager.default.contentsOfDirectory(atPath: bench.folder + "/lines")
            #expect(links == ["ISP"], "the data path's link while connected")
            let hooks = try FileManager.default.contentsOfDirectory(atPath: bench.folder + "/ppp")
            #expect(hooks.count == 1, "pppd's hook folder while connected: \(hooks)")
            for hook in hooks {
                let hookStatus = try FileStatus.of(bench.folder + "/ppp/" + hook, followLinks: false)
                #expect(hookStatus.kind == .directory && hookStatus.permissions == 0o700)
            }
            let hangUp = try await bench.rasdial(["--disconnect", "--json"])
            #expect(hangUp.status == 0, "\(hangUp.stderr)")
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                ((try? FileManager.default.contentsOfDirectory(atPath: bench.folder + "/lines")) ?? ["?"]).isEmpty
                    && ((try? FileManager.default.contentsOfDirectory(atPath: bench.folder + "/ppp")) ?? ["?"]).isEmpty
            }, "the data path link and the hook folder are removed at the hang-up")
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit() == 0)

            // The stand-in sends "PAP alice:<password>" over the line, as PAP does in the clear:
            // that is the peer's protocol on the wire, which the fake modem records. Anything
            // else in the transcript is swift-ras's.
            let transcript = modems.transcript.replacingOccurrences(of: "PAP alice:\(password)", with: "PAP alice:<on the wire>")
            let outputs: [(String, String)] = [
                ("rasmand's log", daemon.stderr), ("rasmand's stdout", daemon.stdout), ("the transcript", transcript),
                ("rasdial --json (dial)", dial.stdout + dial.stderr), ("rasdial --status --json", status.stdout + status.stderr),
                ("rasdial --json (listing)", listing.stdout), ("rasdial --disconnect --json", hangUp.stdout + hangUp.stderr),
                ("/metrics", scrape.text),
            ]
            for (name, text) in outputs {
                #expect(!text.isEmpty || name == "rasmand's stdout", "\(name) was captured")
                #expect(!text.contains(password), "the password is in \(name)")
            }
            #expect(daemon.stderr.contains("Authenticate"), "the log is the trace-level one, PPP states included")
        }
    }
}
