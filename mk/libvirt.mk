# Real libvirt: the two-site lab (scripts/lab.sh) and the packages the
# real-libvirt tests need. Included by the Makefile.
#   make lab          start two libvirt daemons, one per site, and open repli on
#                     runbooks/examples/lab-switchover.yaml (LAB_DRIVER=qemu for real guests)
#   make lab-status   what virsh sees at both sites
#   make lab-stop     destroy the guests and stop both daemons

.PHONY: lab lab-up lab-status lab-stop deps-libvirt

lab: build lab-up
	@scripts/lab.sh open

lab-up:
	@scripts/lab.sh up

lab-status:
	@scripts/lab.sh status

lab-stop:
	@scripts/lab.sh down

# Installed only when missing; never libvirt-daemon-system (systemd, iptables).
deps-libvirt:
	@scripts/lab.sh deps test

test: deps-libvirt
