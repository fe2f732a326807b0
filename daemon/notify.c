/*
 * notify.c: the configuration's side of "who hears of an event". Pure: no
 * I/O; it must never add a data subject's data to anything it builds.
 */
#include <string.h>

#include <cJSON.h>

#include "notify.h"
#include "util.h"

char *
notify_webhooks(const struct config *cfg, int event)
{
	struct buf	b;
	int		n = 0;

	buf_init(&b);
	buf_adds(&b, "{");
	for (const struct webhook_conf *w = cfg->webhooks; w; w = w->next) {
		if (event >= 0 && (w->events & (1u << event)) == 0)
			continue;
		/* names are [A-Za-z0-9_-]: nothing to quote in an array */
		buf_addf(&b, "%s%s", n++ ? "," : "", w->name);
	}
	buf_adds(&b, "}");
	return buf_take(&b);
}

char *
notify_webhooks_json(const struct config *cfg)
{
	cJSON	*o = cJSON_CreateObject(), *a;
	char	*s, *out;

	for (int ev = 0; ev < NEV_COUNT; ev++) {
		a = cJSON_AddArrayToObject(o, notify_event_names[ev]);
		for (const struct webhook_conf *w = cfg->webhooks; w;
		    w = w->next)
			if (w->events & (1u << ev))
				cJSON_AddItemToArray(a,
				    cJSON_CreateString(w->name));
	}
	s = cJSON_PrintUnformatted(o);
	out = xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(o);
	return out;
}

const char *
notify_dpo_email(const struct config *cfg)
{
	return cfg->dpo_email != NULL && *cfg->dpo_email ? cfg->dpo_email :
	    NULL;
}
