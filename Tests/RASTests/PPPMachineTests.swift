import Testing

@testable import RAS

/// The PPP part of the dial machine, and the pure pieces of the pppd hand-off: the exit
/// table and the log and hook lines.
@Suite("PPP states")
struct PPPMachineTests {
    private typealias State = DialMachine.State
    private typealias Effect = DialMachine.Effect

    private let projection = RasProjection(interfaceName: "ppp0", localAddress: "10.0.0.2", remoteAddress: "10.0.0.1",
                                           dnsServers: ["10.0.0.53"])

    private func run(_ events: [DialMachine.Event]) -> (State, [[Effect]]) {
        RASTests.run(State(runsPPP: true), events)
    }

    private let dialed: [DialMachine.Event] = [.start, .portOpened, .modemReady, .dialResult(.connect(rate: 33600))]

    @Test("CONNECT starts pppd on the data path; its progress walks Authenticate … Projected to Connected")
    func walk() {
        let (state, steps) = run(dialed + [.pppAuthenticated, .pppProjected(projection)])
        #expect(steps[3] == [.notify(.deviceConnected, nil), .notify(.allDevicesConnected, nil), .openDataPath, .startPPP,
                             .notify(.authenticate, nil)])
        #expect(steps[4] == [.notify(.authenticated, nil), .notify(.authProject, nil)])
        #expect(steps[5] == [.notify(.projected, nil), .notify(.connected, nil)])
        #expect(state.phase == .connected)
        #expect(state.projection == projection)
    }

    @Test("a peer that asks no authentication still passes through every state")
    func noAuthentication() {
        let (state, steps) = run(dialed + [.pppProjected(projection)])
        #expect(steps[4] == [.notify(.authenticated, nil), .notify(.authProject, nil), .notify(.projected, nil), .notify(.connected, nil)])
        #expect(state.connectionState == .connected)
    }

    @Test("pppd failing authentication ends the dial in Authenticate + 691, then closes the path and the port")
    func authenticationFailure() {
        let error = PPPExit.rasError(forExitStatus: 19)
        let (state, steps) = run(dialed + [.pppExited(error)])
        #expect(error.code == 691)
        #expect(steps[4] == [.notify(.authenticate, error), .notify(.disconnected, error), .closeDataPath, .releasePort])
        #expect(state.phase == .releasingPort)
        #expect(state.error == error)
    }

    @Test("a hang-up while negotiating stops pppd gracefully before the modem hangs up")
    func hangUpWhileNegotiating() {
        let (_, steps) = run(dialed + [.hangUpRequested])
        #expect(steps[4] == [.stopPPP(graceful: true), .closeDataPath, .hangUpModem])
    }

    @Test("carrier lost while connected: pppd is told to stop at once, the path closed, 629")
    func carrierLost() {
        let (state, steps) = run(dialed + [.pppProjected(projection), .carrierLost])
        #expect(steps[5] == [.notify(.disconnected, .remoteDisconnection), .stopPPP(graceful: false), .closeDataPath, .releasePort])
        #expect(state.error == .remoteDisconnection)
    }

    @Test("pppd's exit after a user hang-up is ignored")
    func exitAfterHangUp() {
        let (state, steps) = run(dialed + [.pppProjected(projection), .hangUpRequested, .pppExited(PPPExit.rasError(forExitStatus: 5))])
        #expect(steps[6].isEmpty)
        #expect(state.error == .userDisconnection)
    }

    @Test("pppd's exit statuses map to RAS errors", arguments: [
        (0, 629), (1, 651), (2, 87), (3, 5), (4, 720), (5, 628), (6, 633), (7, 633), (8, 651), (10, 732), (11, 691),
        (12, 828), (13, 628), (15, 638), (16, 629), (17, 737), (19, 691), (99, 628),
    ])
    func exitTable(status: Int32, code: UInt32) {
        let error = PPPExit.rasError(forExitStatus: status)
        #expect(error.code == code)
        #expect(error.detail?.hasPrefix("pppd exit status \(status)") == true)
    }

    @Test("log and hook lines")
    func reports() {
        #expect(PPPReport.parseLog("CHAP authentication succeeded") == .authenticated)
        #expect(PPPReport.parseLog("PAP authentication succeeded") == .authenticated)
        #expect(PPPReport.parseLog("local  IP address 10.0.0.2") == nil)
        #expect(PPPReport.parseHook("ip-up IFNAME=ppp0 LOCAL=10.0.0.2 REMOTE=10.0.0.1 DNS1=10.0.0.53 DNS2=") == .projected(projection))
        #expect(PPPReport.parseHook("ip-down IFNAME=ppp0") == nil)
    }

    @Test("pppd's command line: the data path, our hooks and logging, then the entry's options")
    func arguments() {
        let settings = PPPSettings(options: ["noauth", "usepeerdns"], user: "alice", passwordFile: "/etc/secret")
        let arguments = settings.arguments(device: "/dev/pts/9", speed: 115200, hooks: "/run/x", hasPassword: true)
        #expect(arguments == ["/dev/pts/9", "115200", "nodetach", "local", "logfd", "2", "ip-up-script", "/run/x/ip-up",
                              "ip-down-script", "/run/x/ip-down", "user", "alice", "plugin", "passwordfd.so", "passwordfd", "0",
                              "noauth", "usepeerdns"])
        #expect(!arguments.contains("/etc/secret"))
        #expect(PPPSettings.optionsProblem("noauth logfd 3") != nil)
        #expect(PPPSettings.optionsProblem("noauth defaultroute") == nil)
    }
}
