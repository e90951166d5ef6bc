/* pihole_source.c — pihole[:DB]: Pi-hole's FTL query database read every --pihole-interval
 * (source/pihole.h), remembering the id of the last query examined. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "source/pihole.h"
#include "source/source.h"

struct psrc {
	struct pihole_config cfg;
	struct pihole_reader *r;
	struct event *ev; /* room for one batch */
	size_t ev_cap;
	int64_t last_id;
	char key[4200];
	bool open_logged;
};

static int pihole_src_open(struct source *s)
{
	struct psrc *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->priv = p;
	p->cfg.db_path = s->arg ? s->arg : "/etc/pihole/pihole-FTL.db";
	p->cfg.all_queries = s->cfg->pihole_all;
	p->cfg.host = s->cfg->host;
	snprintf(p->key, sizeof(p->key), "pihole:%s", p->cfg.db_path);
	const char *v = source_saved(s, p->key);
	if (v)
		p->last_id = strtoll(v, NULL, 10);
	s->poll_ms = s->cfg->pihole_ms;
	p->ev_cap = s->cfg->batch_max;
	if (!(p->ev = calloc(p->ev_cap, sizeof(*p->ev))))
		return -ENOMEM;
	log_info("agent", "pihole: reading '%s' every %" PRId64 " s after query %" PRId64,
		 p->cfg.db_path, s->cfg->pihole_ms / 1000, p->last_id);
	return 0;
}

static int pihole_src_read(struct source *s, size_t room)
{
	struct psrc *p = s->priv;
	size_t n = 0;
	int64_t last = p->last_id;
	if (!p->r) {
		int rc = pihole_open(&p->r, &p->cfg);
		if (rc < 0) {
			if (!p->open_logged)
				log_warn("agent", "pihole: cannot open '%s': %s (tried again)",
					 p->cfg.db_path, siem_strerror(rc));
			p->open_logged = true;
			p->r = NULL;
			return 0;
		}
		p->open_logged = false;
	}
	if (room > p->ev_cap)
		room = p->ev_cap;
	if (room == 0)
		return 0;
	int rc = pihole_read(p->r, p->last_id, room, p->ev, &n, s->sink->arena, &last);
	if (rc == -EBUSY)
		return 0; /* FTL is writing: the next poll */
	if (rc < 0) {
		log_warn("agent", "pihole: reading '%s' failed (%s): tried again at the next poll",
			 p->cfg.db_path, siem_strerror(rc));
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		source_emit(s, &p->ev[i]);
	if (last == p->last_id)
		return 0;
	int64_t consumed = last - p->last_id;
	p->last_id = last;
	return consumed > 0 && consumed < 1000000 ? (int)consumed : 1;
}

static int pihole_src_commit(struct source *s)
{
	struct psrc *p = s->priv;
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, p->last_id);
	return source_checkpoint(s, p->key, buf);
}

static void pihole_src_close(struct source *s)
{
	struct psrc *p = s->priv;
	if (p->r)
		pihole_close(p->r);
	free(p->ev);
	free(p);
	s->priv = NULL;
}

const struct source_ops src_pihole = {"pihole", pihole_src_open, pihole_src_read, pihole_src_commit,
				      pihole_src_close};
