package deploy

import "debug/elf"

// goArch maps `uname -m` to Go's (and k3s's) arch names.
func goArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "armv7", "armhf":
		return "arm"
	case "riscv64":
		return "riscv64"
	case "s390x":
		return "s390x"
	}
	return machine
}

// elfArch is the arch a Linux binary is built for; "" when the file is
// not an ELF binary deploy knows.
func elfArch(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_S390:
		return "s390x"
	}
	return ""
}
