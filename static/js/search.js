/**
 * Search and archive (/search) are rendered by the server (live/pages.py) from a plain GET form
 * (?q=&programme_id=), so a search can be shared, works with scripts off, and the back button
 * works. This only keeps an empty programme filter out of the address a search is shared by.
 */
document.querySelector('#search-form').addEventListener('formdata', (ev) => {
  if (!ev.formData.get('programme_id')) ev.formData.delete('programme_id');
});
