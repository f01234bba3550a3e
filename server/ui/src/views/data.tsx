/**
 * The Data view: a plugin's datastore, read-only: its cells
 * (`ctx.dbStore`/`ctx.dbGet`) and its documents (`ctx.db`), paged, with a
 * query filter (refused queries are explained beside it).
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type CellsPage, type DocumentsPage } from '../api.js';
import { EmptyState } from '../components/empty-state.js';
import { JsonBlock } from '../components/json-block.js';
import { fmtInt, naturalSort } from '../format.js';
import { app, clearError, noteSync, reportError } from '../state.js';
import { useStore } from '../store.js';
import { fetchPlugins } from '../sync.js';

const PAGE = 25;
const CELLS = 200;
const DOCS_KEY = 'GET /api/plugins/…/documents';
const CELLS_KEY = 'GET /api/plugins/…/cells';

/** What the documents part shows: a page, nothing loaded, a read that failed, or a refused filter. */
type Docs = { page: DocumentsPage } | 'none' | 'failed' | 'refused';

export function DataView({ active }: { active: boolean }): JSX.Element {
  const { plugins } = useStore(app);
  const [greeter, setGreeter] = useState('');
  const [offset, setOffset] = useState(0);
  const [query, setQuery] = useState('');
  const [queryText, setQueryText] = useState('');
  const [queryError, setQueryError] = useState('');
  const [docs, setDocs] = useState<Docs>('none');
  const [cells, setCells] = useState<CellsPage | 'none' | 'failed'>('none');
  const [opened, setOpened] = useState(0);
  const panel = useRef<HTMLElement>(null);
  const docsRequest = useRef(0);
  const cellsRequest = useRef(0);
  const scrollUp = useRef(false);

  const serving = (plugins ?? [])
    .filter((p) => p.greeter && p.status !== 'failed')
    .map((p) => p.greeter!)
    .sort(naturalSort);
  const labels = new Map<string, string>();
  for (const p of plugins ?? [])
    if (p.greeter && p.name && p.name !== p.greeter) labels.set(p.greeter, `${p.greeter} — ${p.name}`);

  // Opening the view (or Refresh): the plugins again, then the chosen one's data.
  useEffect(() => {
    if (!active) return;
    void fetchPlugins().then(() => setOpened((n) => n + 1));
  }, [active]);

  useEffect(() => {
    if (opened === 0) return;
    if (serving.length === 0) {
      setGreeter('');
      return;
    }
    if (!serving.includes(greeter)) {
      setGreeter(serving[0]!);
      setOffset(0);
    }
  }, [opened]);

  const loadDocuments = async (): Promise<void> => {
    if (!greeter) {
      setDocs('none');
      return;
    }
    const request = ++docsRequest.current;
    const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    if (query) params.set('query', query);
    try {
      const answer = await api.documents(greeter, params);
      if (request !== docsRequest.current) return;
      clearError(DOCS_KEY);
      setQueryError('');
      noteSync();
      if (answer.documents.length === 0 && offset > 0 && answer.total > 0) {
        // The store shrank meanwhile: show its last page instead of an empty one.
        setOffset(Math.max(0, Math.floor((answer.total - 1) / PAGE) * PAGE));
        return;
      }
      setDocs({ page: answer });
      if (scrollUp.current && panel.current) panel.current.scrollTop = 0;
      scrollUp.current = false;
    } catch (err) {
      if (request !== docsRequest.current) return;
      if (err instanceof ApiError && err.status === 400 && err.code === 'NEKO_ERR_STORAGE_QUERY') {
        // The filter is refused: say why beside it, not as a failure of the page.
        clearError(DOCS_KEY);
        setQueryError(err.message);
        setDocs('refused');
        return;
      }
      reportError(DOCS_KEY, err);
      setDocs('failed');
    }
  };

  const loadCells = async (): Promise<void> => {
    if (!greeter) {
      setCells('none');
      return;
    }
    const request = ++cellsRequest.current;
    try {
      const answer = await api.cells(greeter, CELLS);
      if (request !== cellsRequest.current) return;
      clearError(CELLS_KEY);
      setCells(answer);
    } catch (err) {
      if (request !== cellsRequest.current) return;
      reportError(CELLS_KEY, err);
      setCells('failed');
    }
  };

  useEffect(() => {
    if (opened > 0) void loadDocuments();
  }, [greeter, offset, query, opened]);
  useEffect(() => {
    if (opened > 0) void loadCells();
  }, [greeter, opened]);

  const page = typeof docs === 'object' ? docs.page : null;
  const total = page?.total ?? 0;
  const shownOffset = page?.offset ?? 0;
  const documents = page?.documents ?? [];
  const range =
    documents.length === 0
      ? total === 0
        ? '0 of 0'
        : `– of ${fmtInt(total)}`
      : `${fmtInt(shownOffset + 1)}–${fmtInt(shownOffset + documents.length)} of ${fmtInt(total)}`;
  const noPrev = page === null || shownOffset <= 0;
  const noNext = page === null || shownOffset + documents.length >= total;
  const prev = (bottom: boolean): void => {
    scrollUp.current = bottom;
    setOffset(Math.max(0, offset - PAGE));
  };
  const next = (bottom: boolean): void => {
    if (offset + PAGE >= total) return;
    scrollUp.current = bottom;
    setOffset(offset + PAGE);
  };

  let docList: JSX.Element | JSX.Element[];
  if (docs === 'refused') docList = <EmptyState text="Fix the filter to see documents." />;
  else if (page === null)
    docList = (
      <EmptyState
        text={
          greeter
            ? docs === 'failed'
              ? 'Could not read this datastore.'
              : ''
            : 'No loaded plugin, so no datastore to show.'
        }
      />
    );
  else if (documents.length === 0)
    docList = (
      <EmptyState
        text={
          page.query
            ? 'No document matches the filter.'
            : `${page.greeter || greeter} has no document in its datastore.`
        }
      />
    );
  else
    docList = documents.map((doc, i) => {
      const id =
        doc !== null && typeof doc === 'object' && '_id' in doc
          ? String((doc as { _id: unknown })._id)
          : null;
      return (
        <article key={`${shownOffset + i}:${id ?? ''}`} class="doc-row card" data-id={id ?? ''}>
          <div class="doc-head">
            <span class="doc-index">#{shownOffset + i + 1}</span>
            {id ? <span class="doc-id mono">_id {id}</span> : null}
          </div>
          <JsonBlock value={doc} />
        </article>
      );
    });

  const cellList = typeof cells === 'object' ? cells.cells : [];
  const cellTotal = typeof cells === 'object' ? cells.total : 0;

  return (
    <section
      class="panel panel-scroll"
      id="panel-data"
      role="tabpanel"
      aria-labelledby="tab-data"
      hidden={!active}
      ref={panel}
    >
      <div class="panel-head">
        <h2>Data</h2>
        <span class="panel-summary">A plugin's datastore, read-only.</span>
      </div>
      <div class="toolbar data-toolbar">
        <label class="field">
          <span class="field-label">Plugin</span>
          <select
            id="data-plugin"
            disabled={serving.length === 0}
            value={greeter}
            onChange={(event) => {
              setGreeter(event.currentTarget.value);
              setOffset(0);
            }}
          >
            {serving.length === 0 ? (
              <option value="">No loaded plugin</option>
            ) : (
              serving.map((g) => (
                <option key={g} value={g}>
                  {labels.get(g) ?? g}
                </option>
              ))
            )}
          </select>
        </label>
        <span class="data-count">
          <span id="data-total">{total}</span>{' '}
          <span id="data-total-unit">
            {`${total === 1 ? 'document' : 'documents'}${page?.query ? ' match the filter' : ''}`}
          </span>
        </span>
        <span class="toolbar-spacer"></span>
        <button
          type="button"
          class="button button-quiet"
          id="data-refresh"
          onClick={() => void fetchPlugins().then(() => setOpened((n) => n + 1))}
        >
          Refresh
        </button>
        <div class="pager">
          <button type="button" class="button" id="data-prev" disabled={noPrev} onClick={() => prev(false)}>
            ← Prev
          </button>
          <span class="pager-range" id="data-range">
            {range}
          </span>
          <button type="button" class="button" id="data-next" disabled={noNext} onClick={() => next(false)}>
            Next →
          </button>
        </div>
      </div>
      <section class="cells" id="data-cells" aria-labelledby="data-cells-title">
        <h3 class="data-section-title" id="data-cells-title">
          Cells <span class="muted">(ctx.dbStore / ctx.dbGet)</span>{' '}
          <span class="data-section-count" id="data-cells-total">
            {typeof cells === 'object'
              ? `${fmtInt(cellTotal)} ${cellTotal === 1 ? 'cell' : 'cells'}${cellTotal > cellList.length ? `, first ${cellList.length} shown` : ''}`
              : ''}
          </span>
        </h3>
        <div class="cell-list" id="cell-list">
          {cellList.length === 0 ? (
            <EmptyState
              small
              text={
                typeof cells === 'object'
                  ? 'No cell stored.'
                  : greeter && cells === 'failed'
                    ? 'Could not read the cells.'
                    : ''
              }
            />
          ) : (
            cellList.map((c) => {
              const cell = c as { name: unknown; value: unknown };
              return (
                <div key={String(cell.name)} class="cell-row" data-cell={String(cell.name)}>
                  <span class="cell-name mono">{String(cell.name)}</span>
                  <JsonBlock value={cell.value} />
                </div>
              );
            })
          )}
        </div>
      </section>
      <h3 class="data-section-title">
        Documents <span class="muted">(ctx.db)</span>
      </h3>
      <form
        class="toolbar data-query"
        id="data-query-form"
        onSubmit={(event) => {
          event.preventDefault();
          const text = queryText.trim();
          setOffset(0);
          if (text === query) void loadDocuments();
          else setQuery(text);
        }}
      >
        <label class="field field-grow">
          <span class="field-label">Filter</span>
          <input
            id="data-query"
            class={`mono${queryError ? ' is-invalid' : ''}`}
            type="text"
            placeholder='A query, e.g. {"done": false}'
            autocomplete="off"
            spellcheck={false}
            value={queryText}
            onInput={(event) => setQueryText(event.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button" id="data-query-apply">
          Filter
        </button>
        <button
          type="button"
          class="button button-quiet"
          id="data-query-clear"
          hidden={!query}
          onClick={() => {
            setQueryText('');
            setQuery('');
            setOffset(0);
            setQueryError('');
          }}
        >
          Clear
        </button>
      </form>
      <div class="data-query-error" id="data-query-error" role="alert" hidden={!queryError}>
        {queryError}
      </div>
      <div class="doc-list" id="doc-list">
        {docList}
      </div>
      <div
        class="pager pager-bottom"
        id="data-pager-bottom"
        hidden={documents.length < 6 || (noPrev && noNext)}
      >
        <button
          type="button"
          class="button"
          id="data-prev-bottom"
          disabled={noPrev}
          onClick={() => prev(true)}
        >
          ← Prev
        </button>
        <span class="pager-range" id="data-range-bottom">
          {range}
        </span>
        <button
          type="button"
          class="button"
          id="data-next-bottom"
          disabled={noNext}
          onClick={() => next(true)}
        >
          Next →
        </button>
      </div>
    </section>
  );
}
