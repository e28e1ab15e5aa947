import Testing
@testable import ModemDiscovery

@Suite("Which ports are left out and which are probed")
struct PolicyTests {
    let policy = CandidatePolicy()
    let everything = CandidatePolicy(scope: .allPorts)

    @Test("virtual ttys and 8250 ports without a UART are left out")
    func exclusions() {
        let console = SerialDevice(kernelName: "tty1", devnode: "/dev/tty1", syspath: "/sys/devices/virtual/tty/tty1")
        #expect(console.exclusion == .virtual)
        #expect(uartDevice("ttyS1", type: 0).exclusion == .noUART)
        #expect(uartDevice("ttyS0", type: 4).exclusion == nil)
        #expect(usbDevice().exclusion == nil)
        #expect(policy.decision(for: console) == ProbeDecision(willProbe: false, reason: .excluded))
        #expect(everything.decision(for: uartDevice("ttyS1", type: 0)).willProbe == false)
    }

    @Test("a port our rules tagged is probed")
    func ruleCandidate() {
        let adapter = usbDevice("ttyUSB0", driver: "ftdi_sio", classes: (0xff, 0xff, 0xff), properties: [RuleHints.candidateKey: "1"])
        #expect(policy.decision(for: adapter) == ProbeDecision(willProbe: true, reason: .ruleCandidate))
    }

    @Test("a CDC-ACM interface that declares AT commands is probed, another is not")
    func cdcACM() {
        #expect(policy.decision(for: usbDevice()) == ProbeDecision(willProbe: true, reason: .atCommandInterface))
        let noProtocol = usbDevice(classes: (2, 2, 0))
        #expect(policy.decision(for: noProtocol) == ProbeDecision(willProbe: false, reason: .notACandidate))
    }

    @Test("ports of modem-only drivers are probed")
    func modemDrivers() {
        for driver in ["option", "qcserial", "sierra", "hso"] {
            #expect(policy.decision(for: usbDevice("ttyUSB2", driver: driver, classes: (0xff, 0, 0))).reason == .modemDriver)
        }
    }

    @Test("plain adapters and built-in UARTs are probed only when every port is asked for")
    func optIn() {
        let adapter = usbDevice("ttyUSB1", driver: "pl2303", serial: nil, classes: (0xff, 0, 0))
        #expect(policy.decision(for: adapter) == ProbeDecision(willProbe: false, reason: .notACandidate))
        #expect(policy.decision(for: uartDevice()) == ProbeDecision(willProbe: false, reason: .notACandidate))
        #expect(everything.decision(for: adapter) == ProbeDecision(willProbe: true, reason: .allPortsRequested))
        #expect(everything.decision(for: uartDevice()) == ProbeDecision(willProbe: true, reason: .allPortsRequested))
        let tagged = uartDevice(properties: [RuleHints.candidateKey: "1"])
        #expect(policy.decision(for: tagged) == ProbeDecision(willProbe: true, reason: .ruleCandidate))
    }

    @Test("ignored ports and non-AT ports are never opened, whatever the scope")
    func neverOpened() {
        let ignored = usbDevice(properties: [RuleHints.ignoreKey: "1", RuleHints.candidateKey: "1"])
        #expect(everything.decision(for: ignored) == ProbeDecision(willProbe: false, reason: .ignoredByRule))
        for type in ["qcdm", "gps"] {
            let port = usbDevice("ttyUSB2", driver: "option", properties: [RuleHints.portTypeKey: type])
            #expect(everything.decision(for: port) == ProbeDecision(willProbe: false, reason: .notAnATPort))
        }
    }

    @Test("rule hints are read from properties and tags")
    func hints() {
        let hints = RuleHints(
            properties: [
                "ID_SWIFT_RAS_CANDIDATE": "1", "ID_SWIFT_RAS_PORT_TYPE": "modem", "ID_SWIFT_RAS_NAME": "line-1",
                "ID_SWIFT_RAS_PROBE_BAUD": "57600",
            ],
            tags: ["systemd", "swift-ras"])
        #expect(hints.isCandidate && !hints.isIgnored && hints.isTagged)
        #expect(hints.portType == .modem && hints.name == "line-1" && hints.probeSpeed == 57600)
        let none = RuleHints(properties: ["ID_SWIFT_RAS_PORT_TYPE": "fax", "ID_SWIFT_RAS_NAME": ""], tags: [])
        #expect(none.portType == nil && none.name == nil && !none.isCandidate && !none.isTagged)
    }

    @Test("device nodes sort naturally")
    func naturalOrdering() {
        let names = ["/dev/ttyUSB10", "/dev/ttyS1", "/dev/ttyUSB2", "/dev/ttyACM0", "/dev/ttyS0"]
        #expect(names.sorted(by: naturalOrder) == ["/dev/ttyACM0", "/dev/ttyS0", "/dev/ttyS1", "/dev/ttyUSB2", "/dev/ttyUSB10"])
    }

    @Test("udev's \\x escapes are decoded")
    func escapes() {
        #expect(decodeUdevEscapes("USB\\x20Modem") == "USB Modem")
        #expect(decodeUdevEscapes("a\\x2fb\\x") == "a/b\\x")
    }
}
