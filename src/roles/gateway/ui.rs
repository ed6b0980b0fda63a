//! The page: three static files embedded in the binary, or read from `--ui-dir` so a
//! ConfigMap can replace them without a new image. A file the folder lacks (an empty
//! mount when the optional ConfigMap is missing) falls back to the embedded copy.

use std::path::PathBuf;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::problem::Problem;

/// (file name, content type, embedded content)
const FILES: [(&str, &str, &str); 3] = [
    ("index.html", "text/html; charset=utf-8", include_str!("ui/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("ui/app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("ui/style.css")),
];

pub(crate) struct Ui {
    dir: Option<PathBuf>,
}

impl Ui {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Ui { dir }
    }
}

pub(crate) async fn serve(req: HttpRequest, ui: web::Data<Ui>) -> Result<HttpResponse, Problem> {
    let wanted = match req.path() {
        "/" => "index.html",
        path => path.trim_start_matches('/'),
    };
    let (name, content_type, embedded) = FILES
        .iter()
        .find(|(name, _, _)| *name == wanted)
        .ok_or_else(|| Problem::not_found(format!("no file {wanted}")))?;
    let body = match &ui.dir {
        None => embedded.as_bytes().to_vec(),
        Some(dir) => {
            let path = dir.join(name);
            match web::block(move || std::fs::read(&path)).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => embedded.as_bytes().to_vec(),
                Ok(Err(e)) => return Err(Problem::unavailable(format!("reading {name} from the UI folder: {e}"))),
                Err(e) => return Err(Problem::unavailable(format!("reading {name}: {e}"))),
            }
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(body))
}
