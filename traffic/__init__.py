"""Traffic tools for the DIN testbed: the DIN wire format, scapy layers, workload
generators, a fast raw-socket sender, a receiver and pcap files.

The package stands alone: it imports the standard library, numpy and scapy,
never controller, p4lite or topologies.
"""
