package report

import "time"

// Sample is a fixed, realistic report: the annual PRA drill of an ERP, on
// simulated sites, with a fixed clock. Tests, goldens and the demo use it.
// Its chain-head signature is a real ed25519 SSH signature, so the
// re-verification recipe it prints works with ssh-keygen alone.
func Sample() *Doc {
	day := func(h, m, s int) time.Time { return time.Date(2026, time.November, 30, h, m, s, 0, time.UTC) }
	min := func(m, s int) time.Duration { return time.Duration(m)*time.Minute + time.Duration(s)*time.Second }
	const (
		claire = "Claire Martin"
		jean   = "Jean Dupont"
		sophie = "Sophie Bernard"
		pn     = "paris-nord"
		ls     = "lyon-sud"
	)
	step := func(order int, id, title, kind, site, host, action string, from, to time.Time, result string, targets ...string) Step {
		s := Step{Order: order, ID: id, Title: title, Kind: kind, Site: site, Host: host, Action: action,
			Started: from, Ended: to, Duration: to.Sub(from), Result: result, Targets: targets}
		if s.Targets == nil {
			s.Targets = []string{}
		}
		s.ForcedShutdowns = []string{}
		return s
	}
	timeline := []Step{
		step(1, "preflight", "Contrôle des deux sites", "check", "", "", "inventory paris-nord and lyon-sud; replication lag of erp-db; backup catalogue", day(14, 5, 0), day(14, 5, 42), "succeeded", "erp-web", "erp-app", "erp-db", "erp-archives"),
		step(2, "open-window", "Ouverture de la fenêtre de changement", "confirm", "", "", "gate: confirm", day(14, 5, 42), day(14, 8, 10), "succeeded"),
		step(3, "freeze-batch", "Gel des traitements batch", "exec", pn, "kvm-pn-01", "exec on erp-app: systemctl stop erp-batch.timer erp-batch.service", day(14, 8, 10), day(14, 9, 2), "succeeded", "erp-app"),
		step(4, "stop-primary", "Arrêt du site nominal", "shutdown", pn, "kvm-pn-01, kvm-pn-02", "shutdown erp-web, erp-app, erp-db (timeout 120 s, then destroy)", day(14, 9, 2), day(14, 12, 0), "succeeded", "erp-web", "erp-app", "erp-db"),
		step(5, "approve-failover", "Décision de bascule (deux personnes)", "approval", "", "", "gate: approval by 2, typed BASCULE LYON-SUD", day(14, 12, 0), day(14, 19, 35), "succeeded"),
		step(6, "promote-db", "Promotion de la base secondaire", "exec", ls, "kvm-ls-01", "exec on erp-db: /usr/local/sbin/erp-db-promote --standby lyon-sud", day(14, 19, 35), day(14, 24, 5), "succeeded", "erp-db"),
		step(7, "restore-archives", "Restauration des archives (sauvegarde chiffrée)", "restore", ls, "kvm-ls-02", "restore erp-archives from bk-20261130-0200-erp-archives (age-encrypted)", day(14, 24, 5), day(14, 36, 50), "succeeded", "erp-archives"),
		step(8, "start-secondary", "Démarrage du site de secours", "start", ls, "kvm-ls-01, kvm-ls-02", "start erp-app, erp-web, erp-archives; wait for running", day(14, 36, 50), day(14, 41, 20), "succeeded", "erp-app", "erp-web", "erp-archives"),
		step(9, "smoke-test", "Tests de bon fonctionnement", "exec", ls, "kvm-ls-01", "exec on erp-web: /usr/local/bin/erp-smoke --url https://erp.interne.example/ --login test-pra", day(14, 41, 20), day(14, 43, 5), "succeeded", "erp-web"),
		step(10, "dns-switch", "Bascule DNS", "manual", "", "", "manual checklist (3 items)", day(14, 43, 5), day(14, 51, 40), "succeeded"),
		step(11, "reverse-replication", "Réplication inverse", "exec", pn, "kvm-pn-02", "exec on erp-db: /usr/local/sbin/erp-db-replicate --from lyon-sud --to paris-nord", day(14, 51, 40), day(14, 51, 40), "skipped", "erp-db"),
		step(12, "close-window", "Clôture de la fenêtre de changement", "confirm", "", "", "gate: confirm", day(14, 51, 40), day(14, 53, 0), "succeeded"),
	}
	timeline[3].ForcedShutdowns = []string{"erp-db"}
	timeline[3].RTOStart = true
	timeline[5].Retries = 1
	timeline[8].RTOStop = true
	timeline[10].Reason = "réplication inverse reportée : la base de paris-nord reste arrêtée pour l'analyse de l'arrêt forcé (décision de Jean Dupont)"

	return &Doc{
		GeneratedAt: day(15, 30, 0),
		Identification: Identification{
			RunID:          42,
			Runbook:        "erp-bascule-annuelle",
			Title:          "Exercice annuel PRA — ERP financier",
			RunbookVersion: "2026.3",
			RunbookFile:    "runbooks/erp-bascule-annuelle.yaml",
			RunbookSHA256:  "5d41c3f09a8be1e8f4b1c2d7a6e9f0b3c4d5e6f708192a3b4c5d6e7f8091a2b3",
			RepliVersion:   "0.9.0",
			Plan:           "PRA",
			Mode:           "switchover",
			Simulated:      true,
			Started:        day(14, 5, 0),
			Ended:          day(14, 53, 0),
			Outcome:        "succeeded",
			ConsoleHost:    "bastion-pra-01",
			SSHClient:      "10.20.4.17",
			Sites: []Site{
				{Name: pn, Role: "primary", URI: "sim://paris-nord", Simulated: true},
				{Name: ls, Role: "secondary", URI: "sim://lyon-sud", Simulated: true},
			},
			Hosts:     []string{"kvm-pn-01", "kvm-pn-02", "kvm-ls-01", "kvm-ls-02"},
			Domains:   []string{"erp-web", "erp-app", "erp-db", "erp-archives"},
			RTOTarget: 2 * time.Hour,
			RPOTarget: 15 * time.Minute,
		},
		People: People{
			Operator: Person{Name: claire, Role: "Responsable d'exploitation", Host: "bastion-pra-01", SSHClient: "10.20.4.17"},
			Approvers: []Approver{
				{Name: claire, Role: "Responsable d'exploitation", Step: "approve-failover", At: day(14, 13, 10), Signed: true, Key: "SHA256:e7MgFFrUb5CJg4s/IBo/aCWvY2uEMr9Xdj+I447Ru+E"},
				{Name: jean, Role: "RSSI", Step: "approve-failover", At: day(14, 19, 35), Signed: false},
			},
			Observers: []Person{
				{Name: "Nathalie Roux", Role: "Auditrice (cabinet externe)", Host: "bastion-pra-01", SSHClient: "10.20.9.40"},
				{Name: "Paul Girard", Role: "Délégué à la protection des données"},
			},
		},
		Readiness: Inventory{
			At: day(14, 5, 0),
			Sites: []SiteInventory{
				{Site: pn, Role: "primary", Reachable: true, Domains: []DomainState{
					{Name: "erp-web", Host: "kvm-pn-01", State: "running"},
					{Name: "erp-app", Host: "kvm-pn-01", State: "running"},
					{Name: "erp-db", Host: "kvm-pn-02", State: "running", Detail: "réplication vers lyon-sud, retard 95 s"},
					{Name: "erp-archives", Host: "kvm-pn-02", State: "running"},
				}},
				{Site: ls, Role: "secondary", Reachable: true, Domains: []DomainState{
					{Name: "erp-web", Host: "kvm-ls-01", State: "shut off"},
					{Name: "erp-app", Host: "kvm-ls-01", State: "shut off"},
					{Name: "erp-db", Host: "kvm-ls-01", State: "running", Detail: "secours, rejeu en cours"},
					{Name: "erp-archives", Host: "kvm-ls-02", State: "shut off", Detail: "pas de disque : restauré depuis la sauvegarde"},
				}},
			},
		},
		Accepted: []Acceptance{
			{Severity: "warning", Check: "replication-lag", Message: "erp-db replication lag 95 s exceeds 60 s", By: claire, At: day(14, 5, 30), Reason: "charge de fin de mois ; le retard se résorbe, contrôlé à nouveau avant la bascule"},
			{Severity: "blocker", Check: "host-memory", Message: "kvm-ls-02: 91 % memory in use (blocker at 90 %)", By: jean, At: day(14, 5, 38), Reason: "machine de test arrêtée pendant l'exercice ; libère 24 Gio avant le démarrage"},
		},
		Timeline: timeline,
		Gates: []Gate{
			{Step: "open-window", Kind: "confirm", Prompt: "Confirmez l'ouverture de la fenêtre de changement CAB-2026-114.", Opened: day(14, 5, 42), Closed: day(14, 8, 10), Wait: min(2, 28), Required: 1,
				Decisions: []Decision{{By: claire, At: day(14, 8, 10), Approved: true}}},
			{Step: "approve-failover", Kind: "approval", Prompt: "Bascule de l'ERP vers lyon-sud : tapez BASCULE LYON-SUD pour approuver.", Opened: day(14, 12, 0), Closed: day(14, 19, 35), Wait: min(7, 35), Required: 2,
				Decisions: []Decision{
					{By: claire, At: day(14, 13, 10), Approved: true, Typed: "BASCULE LYON-SUD", Signed: true},
					{By: jean, At: day(14, 19, 35), Approved: true, Typed: "BASCULE LYON-SUD"},
				}},
			{Step: "promote-db", Kind: "after_failure", Prompt: "promote-db failed: pg_ctl promote: server did not promote in time. Retry, skip or abort?", Opened: day(14, 21, 10), Closed: day(14, 22, 15), Wait: min(1, 5), Required: 1,
				Decisions: []Decision{{By: claire, At: day(14, 22, 15), Approved: true, Choice: "retry"}}},
			{Step: "dns-switch", Kind: "checklist", Prompt: "Basculez l'enregistrement DNS erp.interne.example vers lyon-sud.", Opened: day(14, 43, 5), Closed: day(14, 51, 40), Wait: min(8, 35), Required: 1,
				Decisions: []Decision{{By: claire, At: day(14, 51, 40), Approved: true}},
				Checklist: []Tick{
					{Item: "Enregistrement A erp.interne.example → 10.60.1.20", By: claire, At: day(14, 46, 12)},
					{Item: "TTL ramené à 60 s vérifié", By: claire, At: day(14, 48, 3)},
					{Item: "Résolution contrôlée depuis deux postes clients", By: claire, At: day(14, 51, 31)},
				}},
			{Step: "close-window", Kind: "confirm", Prompt: "Clôturez la fenêtre CAB-2026-114 ?", Opened: day(14, 51, 40), Closed: day(14, 53, 0), Wait: min(1, 20), Required: 1,
				Decisions: []Decision{{By: claire, At: day(14, 53, 0), Approved: true}}},
		},
		Objectives: Objectives{
			RTO: Measure{Target: 2 * time.Hour, Achieved: day(14, 43, 5).Sub(day(14, 9, 2)), Measured: true,
				From: day(14, 9, 2), To: day(14, 43, 5), FromStep: "stop-primary", ToStep: "smoke-test",
				Basis: "de l'arrêt du site nominal à la fin des tests de bon fonctionnement sur lyon-sud"},
			RPO: Measure{Target: 15 * time.Minute, Achieved: day(14, 9, 2).Sub(day(14, 6, 50)), Measured: true,
				From: day(14, 6, 50), To: day(14, 9, 2),
				Basis: "dernier segment WAL d'erp-db rejoué sur lyon-sud avant l'arrêt du site nominal"},
		},
		Validation: []Check{
			{Step: "preflight", Name: "inventaire des deux sites", At: day(14, 5, 42), Site: pn, ExitCode: -1, OK: true,
				Output: "paris-nord: 4 domains running\nlyon-sud: erp-db running (standby), 3 domains shut off"},
			{Step: "promote-db", Name: "promotion d'erp-db (tentative 2)", At: day(14, 24, 5), Site: ls, Host: "kvm-ls-01",
				Command: "/usr/local/sbin/erp-db-promote --standby lyon-sud", ExitCode: 0, OK: true,
				Output: "waiting for server to promote.... done\nserver promoted\ntimeline 7 → 8"},
			{Step: "restore-archives", Name: "empreinte de l'archive restaurée", At: day(14, 36, 40), Site: ls, Host: "kvm-ls-02",
				Command: "sha256sum -c bk-20261130-0200-erp-archives.sha256", ExitCode: 0, OK: true,
				Output: "bk-20261130-0200-erp-archives.qcow2: OK"},
			{Step: "smoke-test", Name: "tests de bon fonctionnement de l'ERP", At: day(14, 43, 5), Site: ls, Host: "kvm-ls-01",
				Command: "/usr/local/bin/erp-smoke --url https://erp.interne.example/ --login test-pra", ExitCode: 0, OK: true,
				Output: "GET / 200 (212 ms)\nPOST /login 302 (388 ms)\nGET /compta/journal?exercice=2026 200 (941 ms)\n3/3 checks passed"},
		},
		Deviations: []Deviation{
			{Kind: "override", Step: "preflight", At: day(14, 5, 38), By: jean, Detail: "blocage host-memory levé : kvm-ls-02 à 91 % de mémoire"},
			{Kind: "forced_shutdown", Step: "stop-primary", At: day(14, 11, 55), Detail: "erp-db ne s'est pas arrêtée en 120 s : arrêt forcé (destroy)"},
			{Kind: "error", Step: "promote-db", At: day(14, 21, 10), Detail: "pg_ctl promote: server did not promote in time (exit 1)"},
			{Kind: "retry", Step: "promote-db", At: day(14, 22, 15), By: claire, Detail: "reprise décidée après 1 min 05 s ; deuxième tentative réussie"},
			{Kind: "skipped", Step: "reverse-replication", At: day(14, 51, 40), By: jean, Detail: "réplication inverse reportée : la base de paris-nord reste arrêtée pour l'analyse de l'arrêt forcé"},
		},
		FinalState: Inventory{
			At: day(14, 53, 0),
			Sites: []SiteInventory{
				{Site: pn, Role: "primary", Reachable: true, Domains: []DomainState{
					{Name: "erp-web", Host: "kvm-pn-01", State: "shut off"},
					{Name: "erp-app", Host: "kvm-pn-01", State: "shut off"},
					{Name: "erp-db", Host: "kvm-pn-02", State: "shut off", Detail: "arrêt forcé après 120 s"},
					{Name: "erp-archives", Host: "kvm-pn-02", State: "running", Detail: "archive en lecture seule, hors bascule"},
				}},
				{Site: ls, Role: "secondary", Reachable: true, Domains: []DomainState{
					{Name: "erp-web", Host: "kvm-ls-01", State: "running"},
					{Name: "erp-app", Host: "kvm-ls-01", State: "running"},
					{Name: "erp-db", Host: "kvm-ls-01", State: "running", Detail: "primaire, timeline 8"},
					{Name: "erp-archives", Host: "kvm-ls-02", State: "running"},
				}},
			},
		},
		Findings: []Finding{
			{ID: "F-1", At: day(14, 12, 30), By: claire, Step: "stop-primary",
				Text:   "erp-db ne s'arrête pas proprement en 120 s : arrêt forcé (risque de récupération longue au démarrage).",
				Action: "Passer l'arrêt PostgreSQL en mode fast et porter le délai du runbook à 300 s ; rejouer en pré-production.",
				Owner:  "Marc Leroy (équipe DBA)", Due: time.Date(2027, time.January, 29, 0, 0, 0, 0, time.UTC)},
			{ID: "F-2", At: day(15, 20, 0), By: jean, Step: "dns-switch", AfterRun: true,
				Text:   "La procédure DNS papier cite encore l'ancien serveur autoritaire.",
				Action: "Mettre à jour la fiche réflexe DNS et l'intégrer au runbook comme étape exec.",
				Owner:  "Claire Martin", Due: time.Date(2026, time.December, 18, 0, 0, 0, 0, time.UTC)},
		},
		Restores: []Restore{
			{Step: "restore-archives", Domain: "erp-archives", BackupID: "bk-20261130-0200-erp-archives",
				TakenAt: time.Date(2026, time.November, 30, 2, 0, 0, 0, time.UTC), Age: day(14, 24, 5).Sub(time.Date(2026, time.November, 30, 2, 0, 0, 0, time.UTC)),
				SHA256:   "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
				Verified: true, KeyUsedBy: sophie, KeyUsedAt: day(14, 24, 40), KeyID: "age1pra2026archives (age X25519 recipient)"},
		},
		Integrity: Integrity{
			Events:     96,
			FirstSeq:   1,
			LastSeq:    96,
			ChainHead:  "sha256:63e63686de53245d48d2015bd25d286643b57111fc5698c211c528476f5b01b4",
			Verified:   true,
			VerifiedAt: day(15, 30, 0),
			AuditFile:  "audit.db",
			Signatures: []Signature{{
				What:      "tête de chaîne",
				Signer:    claire,
				Principal: "claire.martin@ministere.gouv.fr",
				Namespace: "repli-chain",
				Key:       "SHA256:e7MgFFrUb5CJg4s/IBo/aCWvY2uEMr9Xdj+I447Ru+E",
				At:        day(14, 53, 5),
				Valid:     true,
				Message:   "repli chain head: run 42, events 1-96, sha256:63e63686de53245d48d2015bd25d286643b57111fc5698c211c528476f5b01b4",
				Armored: "-----BEGIN SSH SIGNATURE-----\n" +
					"U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgvHNq9yKkYpmABThO9ANQuCIi2H\n" +
					"TB/mmWLutWjXeQutEAAAALcmVwbGktY2hhaW4AAAAAAAAABnNoYTUxMgAAAFMAAAALc3No\n" +
					"LWVkMjU1MTkAAABAI7U35fpYJHFriUlFSmgtf9dHCBhuYUBneKU/snj9u6GH4A8PxCwlMb\n" +
					"J2dnre9TYn5+IEua2SfKVIClxNyBzuAg==\n" +
					"-----END SSH SIGNATURE-----",
				AllowedSigners: `claire.martin@ministere.gouv.fr namespaces="repli-chain" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILxzavcipGKZgAU4TvQDULgiIth0wf5pli7rVo13kLrR`,
			}},
		},
	}
}
