-- 0008_list_closed: closed requests by due date, for `list` without a
-- filter that admits only open ones (docs/performance.md, benchmark 2).
-- The list is open requests first, then closed ones, each soonest due
-- first; request.list reads each half in index order and stops at the
-- limit, where it used to sort every request (1.7 s with a million).
-- A request enters this index only when it closes: filing does not pay.
CREATE INDEX requests_closed_due ON requests (due_on, id)
	WHERE status IN ('completed', 'rejected', 'withdrawn');
