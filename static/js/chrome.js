/**
 * The top bar's switches (language, and the text size beside it: ui.js chrome) on a page the
 * server renders whole, with no script of its own for them: the commitment board and search.
 */
import { chrome } from './ui.js';

chrome();
